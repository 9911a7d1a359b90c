use crate::config::DEFAULT_CONFIG;

pub fn run() -> anyhow::Result<()> {
    print!("{DEFAULT_CONFIG}");
    Ok(())
}
