//! `boxed`: installs and checks what sandboxed calls of an unprivileged user start
//! through, and says what the kernel enforces.

use std::path::PathBuf;
use std::process::ExitCode;

use boxed::setup::{self, Status};

const USAGE: &str = "\
usage: boxed <command> [options]

commands:
  install    as root, once per build of EXE: make the setcap'd copy of EXE
  status     say whether the copy of EXE is present and current
  uninstall  as root: remove the copy of EXE
  doctor     say which confinement layers this kernel enforces
  help       show this text, or `boxed help <command>` for one command

options:
  -h, --help     show this text (after a command: that command's help)
  -V, --version  print the version";

const INSTALL_USAGE: &str = "\
usage: boxed install [--user USER] [--sandbox-user NAME]... [--unique-uids] EXE

As root, once per build of EXE: create the setcap'd copy that sandboxed calls of EXE
run through, for USER (default: the owner of EXE). --sandbox-user lets policies run
sandboxes as NAME besides nobody; --unique-uids lets them ask for a uid of their own
per sandbox. Installing a copy trusts whoever built EXE with root: the copy is their
code, and it holds cap_setuid and cap_setgid.";

const STATUS_USAGE: &str = "\
usage: boxed status [--user USER] EXE

Say whether the copy of EXE for USER (default: the owner of EXE) is present and
current; exits 0 only when it is.";

const UNINSTALL_USAGE: &str = "\
usage: boxed uninstall [--user USER] EXE

As root: remove the copy of EXE for USER (default: the owner of EXE).";

const DOCTOR_USAGE: &str = "\
usage: boxed doctor

Print which confinement layers this kernel enforces (Landlock ABI, seccomp, pidfds);
exits non-zero when a layer of the default policy is missing.";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    /// Print a text on stdout and exit 0.
    Print(&'static str),
    Version,
    Doctor,
    Copy {
        action: CopyAction,
        user: Option<String>,
        grants: setup::Grants,
        exe: PathBuf,
    },
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum CopyAction {
    Install,
    Status,
    Uninstall,
}

/// The help text of `command`, or `None` for a command that does not exist.
fn usage_of(command: &str) -> Option<&'static str> {
    Some(match command {
        "install" => INSTALL_USAGE,
        "status" => STATUS_USAGE,
        "uninstall" => UNINSTALL_USAGE,
        "doctor" => DOCTOR_USAGE,
        "help" => USAGE,
        _ => return None,
    })
}

fn unknown(command: &str) -> String {
    format!("boxed: unknown command `{command}`; `boxed help` lists the commands")
}

/// Reads the arguments (without the program name); an error is the message to print on
/// stderr before exiting with code 2.
fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.into());
    };
    let action = match command.as_str() {
        "-h" | "--help" => return Ok(Command::Print(USAGE)),
        "-V" | "--version" => return Ok(Command::Version),
        "help" => {
            return match rest {
                [] => Ok(Command::Print(USAGE)),
                [topic] => usage_of(topic)
                    .map(Command::Print)
                    .ok_or_else(|| unknown(topic)),
                _ => Err(format!("boxed help takes one command at most\n{USAGE}")),
            };
        }
        "doctor" => {
            return match rest {
                [] => Ok(Command::Doctor),
                [flag] if flag == "-h" || flag == "--help" => Ok(Command::Print(DOCTOR_USAGE)),
                [other, ..] => Err(format!("unexpected argument `{other}`\n{DOCTOR_USAGE}")),
            };
        }
        "install" => CopyAction::Install,
        "status" => CopyAction::Status,
        "uninstall" => CopyAction::Uninstall,
        other if other.starts_with('-') => {
            return Err(format!("boxed: unknown option `{other}`\n{USAGE}"));
        }
        other => return Err(unknown(other)),
    };
    let usage = usage_of(command).expect("every command has a usage");
    let mut user = None;
    let mut exe = None;
    let mut grants = setup::Grants::default();
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        let mut value = |flag: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n{usage}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Print(usage)),
            "--user" => user = Some(value("--user")?),
            "--sandbox-user" if action == CopyAction::Install => {
                grants.sandbox_users.push(value("--sandbox-user")?)
            }
            "--unique-uids" if action == CopyAction::Install => grants.unique_uids = true,
            flag if flag.starts_with('-') => {
                return Err(format!("unknown option `{flag}`\n{usage}"));
            }
            _ if exe.is_none() => exe = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument `{arg}`\n{usage}")),
        }
    }
    let exe = exe.ok_or_else(|| format!("EXE is missing\n{usage}"))?;
    Ok(Command::Copy {
        action,
        user,
        grants,
        exe,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args).and_then(run) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, String> {
    let (action, user, grants, exe) = match command {
        Command::Print(text) => {
            println!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        Command::Version => {
            println!("boxed {}", env!("CARGO_PKG_VERSION"));
            return Ok(ExitCode::SUCCESS);
        }
        Command::Doctor => {
            let support = boxed::kernel_support();
            println!("{support}");
            return Ok(if support.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        Command::Copy {
            action,
            user,
            grants,
            exe,
        } => (action, user, grants, exe),
    };
    let uid = setup::resolve_user(user.as_deref(), &exe).map_err(|e| e.to_string())?;
    match action {
        CopyAction::Install => {
            let copy = setup::install(&exe, uid, &grants).map_err(|e| e.to_string())?;
            println!("installed {} for uid {uid}", copy.path.display());
            Ok(ExitCode::SUCCESS)
        }
        CopyAction::Uninstall => {
            let copy = setup::uninstall(&exe, uid).map_err(|e| e.to_string())?;
            println!("removed {}", copy.path.display());
            Ok(ExitCode::SUCCESS)
        }
        CopyAction::Status => {
            let (copy, status) = setup::status(&exe, uid).map_err(|e| e.to_string())?;
            let path = copy.path.display();
            let (line, ok) = match status {
                Status::Current => (format!("current: {path}"), true),
                Status::Missing => (
                    format!(
                        "missing: {path}; create it with: {}",
                        copy.install_command()
                    ),
                    false,
                ),
                Status::Stale => (
                    format!("stale: {path}; refresh it with: {}", copy.install_command()),
                    false,
                ),
                Status::Damaged(why) => (
                    format!(
                        "damaged: {path}: {why}; recreate it with: {}",
                        copy.install_command()
                    ),
                    false,
                ),
            };
            println!("{line}");
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Command, String> {
        parse(
            &line
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn help_in_every_spelling_prints_the_usage() {
        for line in ["--help", "-h", "help"] {
            assert_eq!(parse_line(line), Ok(Command::Print(USAGE)), "{line}");
        }
        assert_eq!(
            parse_line("help install"),
            Ok(Command::Print(INSTALL_USAGE))
        );
        assert_eq!(
            parse_line("install --help"),
            Ok(Command::Print(INSTALL_USAGE))
        );
        assert_eq!(parse_line("status -h"), Ok(Command::Print(STATUS_USAGE)));
        assert_eq!(
            parse_line("doctor --help"),
            Ok(Command::Print(DOCTOR_USAGE))
        );
    }

    #[test]
    fn version_in_both_spellings() {
        assert_eq!(parse_line("--version"), Ok(Command::Version));
        assert_eq!(parse_line("-V"), Ok(Command::Version));
    }

    #[test]
    fn an_unknown_command_or_option_is_named() {
        let error = parse_line("instal x").unwrap_err();
        assert!(error.contains("unknown command `instal`"), "{error}");
        let error = parse_line("help frobnicate").unwrap_err();
        assert!(error.contains("unknown command `frobnicate`"), "{error}");
        let error = parse_line("--frob").unwrap_err();
        assert!(error.contains("unknown option `--frob`"), "{error}");
        let error = parse_line("install --frob x").unwrap_err();
        assert!(error.contains("unknown option `--frob`"), "{error}");
        assert_eq!(parse_line(""), Err(USAGE.to_string()));
    }

    #[test]
    fn install_reads_its_options_and_the_executable() {
        let Ok(Command::Copy {
            action,
            user,
            grants,
            exe,
        }) = parse_line("install --user ann --sandbox-user bob --unique-uids app")
        else {
            panic!("not parsed as an install");
        };
        assert_eq!(action, CopyAction::Install);
        assert_eq!(user.as_deref(), Some("ann"));
        assert_eq!(grants.sandbox_users, ["bob"]);
        assert!(grants.unique_uids);
        assert_eq!(exe, PathBuf::from("app"));
        assert!(parse_line("status --unique-uids app").is_err());
        assert!(
            parse_line("install")
                .unwrap_err()
                .contains("EXE is missing")
        );
        assert!(parse_line("install a b").unwrap_err().contains("`b`"));
    }
}
