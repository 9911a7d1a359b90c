//! `muster users ...`: user accounts, straight in the database, each change audited.

use muster_core::access::{Role, User};
use muster_core::store::Store;
use muster_server::accounts::{self, UserSpec};

use super::operator::{self, groups_text, parse_roles, password_from_stdin, table};
use crate::cli::{UserAddArgs, UsersCommand};
use crate::config::Settings;

pub async fn run(settings: &Settings, command: UsersCommand) -> anyhow::Result<()> {
    // Read before opening the database, so a broken pipe fails before anything changes.
    let password = match &command {
        UsersCommand::Add(UserAddArgs { password_stdin: true, .. }) => Some(password_from_stdin()?),
        UsersCommand::ResetPassword(args) if args.password_stdin => Some(password_from_stdin()?),
        _ => None,
    };
    let database = operator::open(settings).await?;
    let store = database.store();
    let outcome = execute(store.as_ref(), command, password).await;
    database.close().await;
    outcome
}

async fn execute(store: &dyn Store, command: UsersCommand, password: Option<String>) -> anyhow::Result<()> {
    let actor = operator::actor();
    match command {
        UsersCommand::Add(args) => {
            let spec = UserSpec {
                login: args.login,
                display_name: args.display_name,
                roles: parse_roles(&args.roles)?,
                device_groups: args.device_groups,
                password,
            };
            let (user, generated) = accounts::add_user(store, spec, &actor, operator::now()).await?;
            println!(
                "added user {} ({}), roles {}, device groups {}",
                user.login,
                user.display_name,
                roles_text(&user.roles),
                groups_text(&user.device_groups)
            );
            if let Some(generated) = generated {
                print_password(&generated);
            }
        }
        UsersCommand::List => print!("{}", users_table(&store.list_users().await?)),
        UsersCommand::Disable(args) => {
            let user = accounts::set_enabled(store, &args.login, false, &actor, operator::now()).await?;
            println!("disabled user {}; their sessions have ended", user.login);
        }
        UsersCommand::Enable(args) => {
            let user = accounts::set_enabled(store, &args.login, true, &actor, operator::now()).await?;
            println!("enabled user {}", user.login);
        }
        UsersCommand::ResetPassword(args) => {
            let generated = accounts::reset_password(store, &args.login, password, &actor, operator::now()).await?;
            println!("reset the password of {}; their sessions have ended", args.login.trim());
            if let Some(generated) = generated {
                print_password(&generated);
            }
        }
    }
    Ok(())
}

/// The generated password, alone on the last line (so `| tail -n1` picks it), shown only now.
fn print_password(password: &str) {
    println!("password (shown only this once):");
    println!("{password}");
}

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(",")
}

fn users_table(users: &[User]) -> String {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|user| {
            vec![
                user.login.clone(),
                user.display_name.clone(),
                roles_text(&user.roles),
                if user.enabled { "yes" } else { "no" }.to_owned(),
                groups_text(&user.device_groups),
            ]
        })
        .collect();
    table(&["LOGIN", "DISPLAY NAME", "ROLES", "ENABLED", "DEVICE GROUPS"], &rows)
}
