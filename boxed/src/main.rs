//! `boxed`: installs and checks what sandboxed calls of an unprivileged user start
//! through, and says what the kernel enforces.

use std::process::ExitCode;

use boxed::launcher::Grants;

const USAGE: &str = "\
usage: boxed <command> [options]

commands:
  setup      as root, once per machine: install the launcher for users and groups
  status     say whether the launcher is installed, for whom, and current
  doctor     say which confinement layers this kernel enforces
  help       show this text, or `boxed help <command>` for one command

options:
  -h, --help     show this text (after a command: that command's help)
  -V, --version  print the version";

const SETUP_USAGE: &str = "\
usage: boxed setup (--user USER | --group GROUP)... [--sandbox-user NAME]... [--unique-uids]
       boxed setup --remove

As root, once per machine: install the launcher, boxed's own program that starts the
sandboxes of unprivileged callers, runnable by exactly the users and groups named (the
list replaces the previous one). --sandbox-user lets policies run sandboxes as NAME
besides nobody; --unique-uids lets them ask for a uid of their own per sandbox.
--remove uninstalls it. Running setup again with the same options changes nothing.";

const STATUS_USAGE: &str = "\
usage: boxed status

Say whether the launcher is installed, for whom, and whether it is the build of this
boxed command. Exits 0 only when it is installed, intact and current.";

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
    Setup {
        users: Vec<String>,
        groups: Vec<String>,
        grants: Grants,
    },
    Remove,
    LauncherStatus,
}

/// The help text of `command`, or `None` for a command that does not exist.
fn usage_of(command: &str) -> Option<&'static str> {
    Some(match command {
        "setup" => SETUP_USAGE,
        "status" => STATUS_USAGE,
        "doctor" => DOCTOR_USAGE,
        "help" => USAGE,
        _ => return None,
    })
}

fn unknown(command: &str) -> String {
    format!("boxed: unknown command `{command}`; `boxed help` lists the commands")
}

/// The commands of the per-build copies that carried capabilities, which the launcher
/// replaced.
fn retired(command: &str) -> String {
    format!(
        "boxed: `{command}` is gone: there are no per-build copies any more; the launcher \
         serves every build of every program, set up once per machine, as root, with \
         `boxed setup --user USER`"
    )
}

/// Reads the arguments (without the program name); an error is the message to print on
/// stderr before exiting with code 2.
fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.into());
    };
    match command.as_str() {
        "-h" | "--help" => Ok(Command::Print(USAGE)),
        "-V" | "--version" => Ok(Command::Version),
        "help" => match rest {
            [] => Ok(Command::Print(USAGE)),
            [topic] => usage_of(topic)
                .map(Command::Print)
                .ok_or_else(|| unknown(topic)),
            _ => Err(format!("boxed help takes one command at most\n{USAGE}")),
        },
        "doctor" => match rest {
            [] => Ok(Command::Doctor),
            [flag] if flag == "-h" || flag == "--help" => Ok(Command::Print(DOCTOR_USAGE)),
            [other, ..] => Err(format!("unexpected argument `{other}`\n{DOCTOR_USAGE}")),
        },
        "setup" => parse_setup(rest),
        "status" => match rest {
            [] => Ok(Command::LauncherStatus),
            [flag] if flag == "-h" || flag == "--help" => Ok(Command::Print(STATUS_USAGE)),
            [other, ..] => Err(format!("unexpected argument `{other}`\n{STATUS_USAGE}")),
        },
        "install" | "uninstall" => Err(retired(command)),
        other if other.starts_with('-') => Err(format!("boxed: unknown option `{other}`\n{USAGE}")),
        other => Err(unknown(other)),
    }
}

fn parse_setup(args: &[String]) -> Result<Command, String> {
    if args == ["--remove"] {
        return Ok(Command::Remove);
    }
    let (mut users, mut groups) = (Vec::new(), Vec::new());
    let mut grants = Grants::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = |flag: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n{SETUP_USAGE}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Print(SETUP_USAGE)),
            "--user" => users.push(value("--user")?),
            "--group" => groups.push(value("--group")?),
            "--sandbox-user" => grants.sandbox_users.push(value("--sandbox-user")?),
            "--unique-uids" => grants.unique_uids = true,
            "--remove" => return Err(format!("--remove takes no other option\n{SETUP_USAGE}")),
            flag if flag.starts_with('-') => {
                return Err(format!("unknown option `{flag}`\n{SETUP_USAGE}"));
            }
            other => return Err(format!("unexpected argument `{other}`\n{SETUP_USAGE}")),
        }
    }
    if users.is_empty() && groups.is_empty() {
        return Err(format!(
            "name who may run sandboxes: --user USER or --group GROUP\n{SETUP_USAGE}"
        ));
    }
    Ok(Command::Setup {
        users,
        groups,
        grants,
    })
}

/// One line on the launcher: installed or not, for whom, current or not.
fn launcher_line() -> (String, bool) {
    use boxed::launcher::{self, Status};
    let names = |config: &launcher::Config| {
        let users = config.users.iter().map(|uid| {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(*uid))
                .ok()
                .flatten()
                .map_or_else(|| uid.to_string(), |user| user.name)
        });
        let groups = config.groups.iter().map(|gid| {
            nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(*gid))
                .ok()
                .flatten()
                .map_or_else(
                    || format!("group {gid}"),
                    |group| format!("group {}", group.name),
                )
        });
        users.chain(groups).collect::<Vec<_>>().join(", ")
    };
    let fix = "sudo \"$(command -v boxed)\" setup --user USER";
    match launcher::status() {
        Ok(Status::Current(config)) => (
            format!(
                "launcher: installed at {}, current, for {}",
                launcher::LAUNCHER,
                names(&config)
            ),
            true,
        ),
        Ok(Status::Stale(config)) => (
            format!(
                "launcher: installed at {} for {}, from another build of boxed (version {}); \
                 to install this one: {fix}",
                launcher::LAUNCHER,
                names(&config),
                config.version
            ),
            false,
        ),
        Ok(Status::Damaged(why)) => (
            format!("launcher: damaged ({why}); reinstall it with: {fix}"),
            false,
        ),
        Ok(Status::Missing) => (
            format!("launcher: not installed; install it with: {fix}"),
            false,
        ),
        Err(error) => (format!("launcher: {error}"), false),
    }
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
    match command {
        Command::Print(text) => {
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Version => {
            println!("boxed {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Setup {
            users,
            groups,
            grants,
        } => {
            boxed::launcher::setup(&users, &groups, &grants).map_err(|e| e.to_string())?;
            println!("{}", launcher_line().0);
            Ok(ExitCode::SUCCESS)
        }
        Command::Remove => {
            let removed = boxed::launcher::remove().map_err(|e| e.to_string())?;
            println!(
                "{}",
                if removed {
                    "launcher: removed"
                } else {
                    "launcher: was not installed"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::LauncherStatus => {
            let (line, ok) = launcher_line();
            println!("{line}");
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Doctor => {
            let support = boxed::kernel_support();
            println!("{support}");
            // Reported, not judged: a root caller needs no launcher.
            println!("{}", launcher_line().0);
            Ok(if support.complete() {
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
        assert_eq!(parse_line("status -h"), Ok(Command::Print(STATUS_USAGE)));
        assert_eq!(
            parse_line("doctor --help"),
            Ok(Command::Print(DOCTOR_USAGE))
        );
        assert_eq!(parse_line("setup --help"), Ok(Command::Print(SETUP_USAGE)));
        assert_eq!(parse_line("help setup"), Ok(Command::Print(SETUP_USAGE)));
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
        let error = parse_line("setup --frob x").unwrap_err();
        assert!(error.contains("unknown option `--frob`"), "{error}");
        assert_eq!(parse_line(""), Err(USAGE.to_string()));
    }

    #[test]
    fn setup_reads_who_may_run_sandboxes_and_refuses_no_one() {
        assert_eq!(
            parse_line("setup --user ann --group devs --user bob --sandbox-user eve --unique-uids"),
            Ok(Command::Setup {
                users: vec!["ann".into(), "bob".into()],
                groups: vec!["devs".into()],
                grants: Grants {
                    sandbox_users: vec!["eve".into()],
                    unique_uids: true,
                },
            })
        );
        assert_eq!(parse_line("setup --remove"), Ok(Command::Remove));
        assert!(parse_line("setup").unwrap_err().contains("--user USER"));
        assert!(parse_line("setup --unique-uids").is_err());
        assert!(parse_line("setup --user ann --remove").is_err());
        assert!(
            parse_line("setup --user")
                .unwrap_err()
                .contains("needs a value")
        );
        assert_eq!(parse_line("status"), Ok(Command::LauncherStatus));
    }

    #[test]
    fn the_retired_copy_commands_point_at_setup() {
        for line in ["install app", "uninstall app", "install --user ann app"] {
            let error = parse_line(line).unwrap_err();
            assert!(error.contains("boxed setup --user USER"), "{line}: {error}");
            assert!(!error.contains("unknown command"), "{line}: {error}");
        }
        assert!(parse_line("status app").unwrap_err().contains("`app`"));
        assert_eq!(
            parse_line("status --help"),
            Ok(Command::Print(STATUS_USAGE))
        );
    }
}
