//! `boxed`: installs and checks the setcap'd copies that sandboxed calls run through.

use std::path::PathBuf;
use std::process::ExitCode;

use boxed::setup::{self, Status};

const USAGE: &str = "\
usage: boxed install   [--user USER] [--sandbox-user NAME]... [--unique-uids] EXE
       boxed status    [--user USER] EXE
       boxed uninstall [--user USER] EXE
       boxed doctor

install    as root, once per build of EXE: create the setcap'd copy that sandboxed calls
           of EXE run through, for USER (default: the owner of EXE); --sandbox-user
           lets policies run sandboxes as NAME besides nobody, --unique-uids lets them
           ask for a uid of their own per sandbox
status     say whether that copy is present and current; exits 0 only when it is
uninstall  as root: remove that copy
doctor     say which confinement layers this kernel enforces";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let (command, rest) = args.split_first().ok_or(USAGE)?;
    if command == "doctor" {
        let support = boxed::kernel_support();
        println!("{support}");
        return Ok(if support.complete() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let mut user = None;
    let mut exe = None;
    let mut grants = setup::Grants::default();
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--user" => user = Some(rest.next().ok_or("--user needs a value")?.as_str()),
            "--sandbox-user" => grants.sandbox_users.push(
                rest.next()
                    .ok_or("--sandbox-user needs a value")?
                    .to_string(),
            ),
            "--unique-uids" => grants.unique_uids = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            _ if exe.is_none() => exe = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument `{arg}`\n{USAGE}")),
        }
    }
    let exe = exe.ok_or(USAGE)?;
    let uid = setup::resolve_user(user, &exe).map_err(|e| e.to_string())?;
    match command.as_str() {
        "install" => {
            let copy = setup::install(&exe, uid, &grants).map_err(|e| e.to_string())?;
            println!("installed {} for uid {uid}", copy.path.display());
            Ok(ExitCode::SUCCESS)
        }
        "uninstall" => {
            let copy = setup::uninstall(&exe, uid).map_err(|e| e.to_string())?;
            println!("removed {}", copy.path.display());
            Ok(ExitCode::SUCCESS)
        }
        "status" => {
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
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    }
}
