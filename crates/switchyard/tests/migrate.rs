//! `switchyard migrate` prepares a database of either backend (the suite's PostgreSQL pass runs
//! it there) and never prints the password of its URL.

use std::process::Command;

use switchyard_engine::testing;

#[test]
fn migrate_prepares_the_database_and_never_prints_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut url = testing::database_at(&dir.path().join("m.db"));
    if testing::on_postgres() {
        // The test server trusts its clients: any password is accepted, and must stay hidden.
        let mut with_password = url::Url::parse(&url).unwrap();
        with_password.set_password(Some("s3cret-pw")).unwrap();
        url = with_password.to_string();
    }
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["migrate", "--database", &url])
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("is up to date"), "{stdout}");
        assert!(
            !stdout.contains("s3cret-pw") && !stderr.contains("s3cret-pw"),
            "{stdout}{stderr}"
        );
    }
}
