//! `otop serve` without `--demo` refuses to start on the public development secrets: it exits
//! non-zero, before touching the database, with a message naming each secret that is unset.

use std::process::Command;

fn serve(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otop"));
    command
        .arg("serve")
        .env_remove("OTOP_JWT_SECRET")
        .env_remove("OTOP_PAYMENT_SECRET")
        .env_remove("OTOP_SEAL_KEY_FILE")
        // Nothing listens here: reaching the database would fail differently (and slowly).
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/never")
        .env("OTOP_BIND", "127.0.0.1:0");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run otop serve")
}

#[test]
fn serve_without_demo_names_every_missing_secret_and_exits_non_zero() {
    for (env, missing, present) in [
        (
            vec![],
            vec![
                "OTOP_JWT_SECRET",
                "OTOP_PAYMENT_SECRET",
                "OTOP_SEAL_KEY_FILE",
            ],
            vec![],
        ),
        (
            vec![("OTOP_JWT_SECRET", "a-real-jwt-secret")],
            vec!["OTOP_PAYMENT_SECRET", "OTOP_SEAL_KEY_FILE"],
            vec!["OTOP_JWT_SECRET"],
        ),
        (
            vec![("OTOP_PAYMENT_SECRET", "a-real-payment-secret")],
            vec!["OTOP_JWT_SECRET", "OTOP_SEAL_KEY_FILE"],
            vec!["OTOP_PAYMENT_SECRET"],
        ),
    ] {
        let output = serve(&env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{env:?}: {stderr}");
        for name in &missing {
            assert!(
                stderr.contains(name),
                "{env:?}: {name} not named in {stderr}"
            );
        }
        for name in &present {
            assert!(
                !stderr.contains(&format!("{name} must"))
                    && !stderr.contains(&format!("{name} and")),
                "{env:?}: {name} is set but named: {stderr}"
            );
        }
        assert!(
            !stderr.contains("otop-development") && !stderr.contains("a-real-"),
            "no secret is ever printed: {stderr}"
        );
        assert!(
            !stderr.contains("database"),
            "refused before the database was tried: {stderr}"
        );
    }
}

#[test]
fn serve_without_demo_refuses_a_seal_key_file_that_does_not_exist() {
    let output = serve(&[
        ("OTOP_JWT_SECRET", "a-real-jwt-secret"),
        ("OTOP_PAYMENT_SECRET", "a-real-payment-secret"),
        ("OTOP_SEAL_KEY_FILE", "/nonexistent/otop-seal.key"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("OTOP_SEAL_KEY_FILE"), "{stderr}");
    assert!(stderr.contains("otop seal-key"), "{stderr}");
    assert!(
        !stderr.contains("database"),
        "refused before the database: {stderr}"
    );
}

#[test]
fn sign_payment_prints_a_callback_the_server_accepts_signed_with_the_payment_secret() {
    let order = "0190f6c4-0000-7000-8000-000000000001";
    let output = Command::new(env!("CARGO_BIN_EXE_otop"))
        .args([
            "sign-payment",
            "--order",
            order,
            "--amount-satang",
            "350000",
        ])
        .args(["--reference", "PP-1"])
        .env("OTOP_PAYMENT_SECRET", "the-payment-secret")
        .output()
        .expect("run otop sign-payment");
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).expect("text");
    let header = printed
        .split("X-Otop-Signature: ")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a signature header");
    let body = printed
        .split("-d '")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("'\n"))
        .expect("a body");
    assert!(body.contains(order), "the body names its order: {body}");
    let now = chrono::Utc::now().timestamp();
    otop_api::routes::payments::verify_signature(
        b"the-payment-secret",
        body.as_bytes(),
        Some(header),
        now,
    )
    .expect("the server's check accepts it");
    assert!(otop_api::routes::payments::verify_signature(
        b"another-secret",
        body.as_bytes(),
        Some(header),
        now
    )
    .is_err());
}
