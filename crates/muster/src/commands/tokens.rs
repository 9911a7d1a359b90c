//! `muster tokens ...`: API tokens, straight in the database, each change audited.

use std::collections::HashMap;

use muster_core::access::ApiToken;
use muster_core::store::Store;
use muster_core::Timestamp;
use muster_server::accounts::{self, TokenSpec};

use super::operator::{self, groups_text, parse_roles, table, time_text};
use crate::cli::TokensCommand;
use crate::config::Settings;

pub async fn run(settings: &Settings, command: TokensCommand) -> anyhow::Result<()> {
    let database = operator::open(settings).await?;
    let store = database.store();
    let outcome = execute(store.as_ref(), command).await;
    database.close().await;
    outcome
}

async fn execute(store: &dyn Store, command: TokensCommand) -> anyhow::Result<()> {
    let actor = operator::actor();
    match command {
        TokensCommand::Create(args) => {
            let role = match parse_roles(std::slice::from_ref(&args.role))?.as_slice() {
                [role] => *role,
                _ => anyhow::bail!("a token carries exactly one role"),
            };
            let spec = TokenSpec {
                name: args.name,
                role,
                user: args.user,
                expires_in_days: args.expires,
                device_groups: args.device_groups,
            };
            let owner = spec.user.clone().map_or("a service token".to_owned(), |login| format!("acting for {login}"));
            let (token, secret) = accounts::create_token(store, spec, &actor, operator::now()).await?;
            println!(
                "created token #{} \"{}\": role {}, {owner}, device groups {}, expires {}",
                token.id,
                token.name,
                token.role,
                groups_text(&token.device_groups),
                token.expires_at.map_or("never".to_owned(), time_text)
            );
            println!("its secret, shown only this once, is the next line:");
            // Alone on the last line: scripts take it with `| tail -n1`.
            println!("{secret}");
        }
        TokensCommand::List => {
            let logins: HashMap<i64, String> =
                store.list_users().await?.into_iter().map(|user| (user.id, user.login)).collect();
            print!("{}", tokens_table(&store.list_tokens().await?, &logins, operator::now()));
        }
        TokensCommand::Revoke(args) => {
            accounts::revoke_token(store, args.id, &actor, operator::now()).await?;
            println!("revoked token #{}", args.id);
        }
    }
    Ok(())
}

fn state(token: &ApiToken, now: Timestamp) -> &'static str {
    if token.revoked_at.is_some() {
        "revoked"
    } else if token.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    }
}

fn tokens_table(tokens: &[ApiToken], logins: &HashMap<i64, String>, now: Timestamp) -> String {
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|token| {
            let owner = match token.user_id {
                Some(id) => logins.get(&id).cloned().unwrap_or_else(|| format!("(user #{id})")),
                None => "(service)".to_owned(),
            };
            vec![
                token.id.to_string(),
                token.name.clone(),
                token.role.to_string(),
                owner,
                groups_text(&token.device_groups),
                time_text(token.created_at),
                token.expires_at.map_or("never".to_owned(), time_text),
                token.last_used_at.map_or("never".to_owned(), time_text),
                state(token, now).to_owned(),
            ]
        })
        .collect();
    table(&["ID", "NAME", "ROLE", "OWNER", "DEVICE GROUPS", "CREATED", "EXPIRES", "LAST USED", "STATE"], &rows)
}

#[cfg(test)]
mod tests {
    use muster_core::access::Role;

    use super::*;

    fn token(expires_at: Option<i64>, revoked_at: Option<i64>) -> ApiToken {
        ApiToken {
            id: 7,
            name: "edr".into(),
            user_id: None,
            role: Role::Ingest,
            device_groups: Vec::new(),
            secret_hash: "0123456789abcdef".into(),
            created_at: Timestamp::from_secs(1_000),
            expires_at: expires_at.map(Timestamp::from_secs),
            revoked_at: revoked_at.map(Timestamp::from_secs),
            last_used_at: None,
        }
    }

    #[test]
    fn states() {
        let now = Timestamp::from_secs(5_000);
        assert_eq!(state(&token(None, None), now), "active");
        assert_eq!(state(&token(Some(9_000), None), now), "active");
        assert_eq!(state(&token(Some(4_000), None), now), "expired");
        assert_eq!(state(&token(Some(4_000), Some(3_000)), now), "revoked");
    }

    #[test]
    fn the_table_never_shows_the_hash() {
        let text = tokens_table(&[token(None, None)], &HashMap::new(), Timestamp::from_secs(5_000));
        assert!(!text.contains("0123456789abcdef"), "{text}");
        assert!(text.contains("(service)") && text.contains("never") && text.contains("active"), "{text}");
        assert!(text.contains("1970-01-01T00:16:40Z"), "{text}");
    }
}
