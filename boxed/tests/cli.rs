//! The `boxed` command's conventions, run as the built program: help and version exit
//! 0 on stdout, an unknown command is named on stderr with exit code 2.

use std::process::{Command, Output};

fn boxed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_boxed"))
        .args(args)
        .output()
        .expect("running the boxed command")
}

#[test]
fn help_exits_zero_and_lists_the_commands() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let out = boxed(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("usage: boxed <command>"), "{args:?}: {text}");
        assert!(text.contains("doctor"), "{args:?}: {text}");
    }
}

#[test]
fn every_command_has_help_that_exits_zero() {
    for command in ["setup", "status", "doctor"] {
        for args in [[command, "--help"], ["help", command]] {
            let out = boxed(&args);
            assert_eq!(out.status.code(), Some(0), "{args:?}");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains(&format!("usage: boxed {command}")),
                "{args:?}: {text}"
            );
        }
    }
}

#[test]
fn version_prints_the_crate_version() {
    for flag in ["--version", "-V"] {
        let out = boxed(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("boxed {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn an_unknown_command_is_named_and_fails() {
    let out = boxed(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("unknown command `frobnicate`"), "{text}");
    // Control: a known command is not called unknown.
    let out = boxed(&["doctor"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unknown command"));
}

#[test]
fn the_retired_copy_commands_name_the_launcher_setup() {
    for command in ["install", "uninstall"] {
        let out = boxed(&[command, "/bin/true"]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("boxed setup --user USER"),
            "{command}: {text}"
        );
    }
    // Control: the command that replaced them is known.
    let out = boxed(&["setup", "--help"]);
    assert_eq!(out.status.code(), Some(0));
}
