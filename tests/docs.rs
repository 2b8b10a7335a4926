//! The README and docs/ stay true to the code: every `commsim` command in
//! their shell examples parses with today's command line and names files
//! that exist, every complete scenario in their TOML examples loads, the
//! README's table names every shipped scenario, and `run --help` every
//! variant.

use clap::{CommandFactory, Parser};
use commsim::cli::Cli;
use commsim::core::member::membership::Variant;
use commsim::scenario::parse_str;
use std::path::Path;

fn documents() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            docs.push(p);
        }
    }
    docs.sort();
    docs
}

/// Fenced blocks of one language: (first line number, text).
fn blocks(text: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut current {
            None if fence == format!("```{lang}") => current = Some((n + 2, String::new())),
            Some(_) if fence == "```" => out.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line.trim_start());
                body.push('\n');
            }
            None => {}
        }
    }
    out
}

/// Shell lines that run commsim, continuations joined, as argument lists
/// without redirections, pipes or comments.
fn commands(block: &str) -> Vec<Vec<String>> {
    let joined = block.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| {
            let line = line
                .split(" #")
                .next()?
                .split(" >")
                .next()?
                .split(" |")
                .next()?;
            let rest = line
                .strip_prefix("cargo run --release -- ")
                .or_else(|| line.strip_prefix("commsim "))?;
            let mut argv = vec!["commsim".to_owned()];
            argv.extend(rest.split_whitespace().map(str::to_owned));
            Some(argv)
        })
        .collect()
}

#[test]
fn every_documented_command_parses_and_names_real_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (line, block) in blocks(&text, "sh") {
            for argv in commands(&block) {
                seen += 1;
                if let Err(e) = Cli::try_parse_from(&argv) {
                    panic!("{}:{line}: {argv:?}: {e}", doc.display());
                }
                for arg in argv
                    .iter()
                    .filter(|a| a.starts_with("scenarios/") && a.ends_with(".toml"))
                {
                    let regression = arg.starts_with("scenarios/regressions/");
                    assert!(
                        regression || root.join(arg).exists(),
                        "{}:{line}: {arg} does not exist",
                        doc.display()
                    );
                }
            }
        }
    }
    assert!(seen >= 10, "only {seen} commands found");
}

#[test]
fn every_complete_scenario_example_loads() {
    let mut seen = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (line, block) in blocks(&text, "toml") {
            if !(block.contains("[topology]") && block.contains("[healing]")) {
                continue;
            }
            seen += 1;
            let name = format!("{}:{line}", doc.display());
            parse_str(&name, &block).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    assert!(seen >= 2, "only {seen} complete scenarios found");
}

#[test]
fn the_readme_table_names_every_shipped_scenario() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut missing = Vec::new();
    for e in std::fs::read_dir(root.join("scenarios")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            if !readme.contains(&format!("\n| `{name}` |")) {
                missing.push(name);
            }
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "README's scenario table lacks {missing:?}"
    );
    for folder in ["scenarios/regressions/", "scenarios/open-defects/"] {
        assert!(readme.contains(folder), "README does not mention {folder}");
    }
}

#[test]
fn run_help_names_every_variant() {
    let mut cli = Cli::command();
    let help = cli
        .find_subcommand_mut("run")
        .unwrap()
        .render_long_help()
        .to_string();
    for v in Variant::ALL {
        assert!(help.contains(v.name()), "`run --help` lacks {v}:\n{help}");
    }
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// docs/checkers.md has one section per checker, named as `CheckId` names
/// it, and none for a checker that does not exist.
#[test]
fn the_checkers_guide_has_a_section_per_checker() {
    use commsim::trace::CheckId;
    let text = read("docs/checkers.md");
    let sections: Vec<&str> = (text.lines())
        .filter_map(|l| l.strip_prefix("## "))
        .filter(|h| h.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    let mut documented: Vec<&str> = sections.clone();
    documented.sort_unstable();
    let mut all: Vec<&str> = CheckId::all().map(CheckId::name).collect();
    all.sort_unstable();
    assert_eq!(documented, all, "sections of docs/checkers.md");
}

/// The fault table of docs/scenario-format.md names every fault kind the
/// loader takes, and no other. (The README points to that table rather
/// than keeping a second list.)
#[test]
fn the_fault_kinds_documented_are_the_ones_there_are() {
    use commsim::faults::FaultType;
    let all: Vec<&str> = FaultType::all().map(FaultType::name).collect();
    let format = read("docs/scenario-format.md");
    let mut table: Vec<&str> = (format.lines())
        .skip_while(|l| !l.starts_with("## `[[faults]]`"))
        .skip_while(|l| !l.starts_with("| kind"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    table.sort_unstable();
    let mut sorted = all;
    sorted.sort_unstable();
    assert_eq!(
        table, sorted,
        "the kinds in docs/scenario-format.md's fault table"
    );
}
