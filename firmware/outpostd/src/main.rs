//! `outpostd`'s entry point: parse the command line and dispatch.

use std::process::ExitCode;

use outpostd::cli::{self, Command};

fn main() -> ExitCode {
    match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Daemon { config, socket }) => {
            outpostd::logger::init(log::LevelFilter::Info);
            outpostd::daemon::run(&config, &socket)
        }
        Ok(Command::Control { request, socket }) => {
            print_reply(outpostd::control::ask(&socket, request))
        }
        Ok(Command::Save { file, socket }) => {
            let file = match file
                .map(|f| std::path::absolute(&f).map_err(|e| (f, e)))
                .transpose()
            {
                Ok(f) => f,
                Err((f, e)) => {
                    eprintln!("outpostd: save: {}: {e}", f.display());
                    return ExitCode::from(1);
                }
            };
            let line = outpostd::control::save_line(file.as_deref());
            print_reply(outpostd::control::ask_line(&socket, &line))
        }
        Ok(Command::PppHook { args, socket }) => {
            let sent = outpostd::hooks::HookMessage::from_args(&args)
                .map_err(|e| e.to_string())
                .and_then(|m| outpostd::hooks::notify(&socket, &m).map_err(|e| e.to_string()));
            hook_outcome("ppp-hook", sent)
        }
        Ok(Command::DhcpHook { event, socket }) => {
            let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
            let sent = outpostd::dhcp_hook::DhcpMessage::from_env(&event, &env)
                .map_err(|e| e.to_string())
                .and_then(|m| outpostd::dhcp_hook::notify(&socket, &m).map_err(|e| e.to_string()));
            hook_outcome("dhcp-hook", sent)
        }
        Ok(Command::CheckConfig { file }) => outpostd::check::check_config(&file),
        Ok(Command::Version) => {
            println!("outpostd {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Help) => {
            print!("{}", cli::HELP);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("outpostd: {e}");
            ExitCode::from(2)
        }
    }
}

/// A hook's exit status: 0 when the agent took it; else why, on stderr
/// (pppd and udhcpc log their scripts' output).
fn hook_outcome(name: &str, sent: Result<outpostd::control::Reply, String>) -> ExitCode {
    match sent {
        Ok(reply) if reply.ok => ExitCode::SUCCESS,
        Ok(reply) => {
            eprintln!("outpostd: {name}: {}", reply.lines.join("; "));
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("outpostd: {e}");
            ExitCode::from(1)
        }
    }
}

/// Prints a control-socket reply's lines; exit status 0 only for an `ok` reply.
fn print_reply<E: std::fmt::Display>(reply: Result<outpostd::control::Reply, E>) -> ExitCode {
    match reply {
        Ok(reply) => {
            for l in &reply.lines {
                println!("{l}");
            }
            if reply.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("outpostd: {e}");
            ExitCode::from(1)
        }
    }
}
