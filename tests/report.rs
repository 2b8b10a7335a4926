//! `commsim report`: a spec's runs written up as plots, `report.md` and
//! `results.json`, which `compare` reads.

// Links the crate, and with it the getrandom backend tempfile needs.
use commsim as _;
mod common;

use common::commsim;
use commsim::report::results::Report;
use std::path::Path;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every text node of an SVG, which must parse.
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The quick spec: every plot is drawn with its axes and legend, the
/// document embeds every plot and reads them, the results hold every
/// point, and a second report of the same build has the same digests
/// (`compare` finds no change).
#[test]
fn the_quick_report_has_every_plot_and_number() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("quick");
    let o = out.to_str().unwrap();
    let r = commsim(&[
        "report",
        "reports/specs/quick.toml",
        "--out",
        o,
        "--jobs",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(stdout.contains("44 of 44 runs met every claim"), "{stdout}");

    let report: Report = serde_json::from_str(&read(&out, "results.json")).unwrap();
    assert_eq!(report.runs.len(), 44);
    assert!(report.runs.iter().all(|r| r.figures.is_some()));
    // steady (2 kinds) + takeover + engines (2 engines), at 2 sizes.
    assert_eq!(report.points.len(), (2 + 1 + 2) * 2);
    assert_eq!(report.costs.len(), 2 * 2);
    let takeover = report
        .points
        .iter()
        .filter(|p| p.place.series == "takeover");
    assert!(
        takeover
            .clone()
            .all(|p| p.fallback_ms.is_some() && p.takeover_ms.is_some())
    );
    for c in &report.costs {
        let (m, k) = (
            c.per_message.as_ref().unwrap(),
            c.per_commit.as_ref().unwrap(),
        );
        assert!(
            m.bytes.median > 0.0 && k.bytes.median > m.bytes.median,
            "{c:?}"
        );
    }

    let md = read(&out, "report.md");
    for needle in [
        "## Setup",
        "| commsim |",
        "| machine |",
        "`reports/specs/quick.toml`",
    ] {
        assert!(md.contains(needle), "{needle} missing");
    }
    let svgs: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("![")?.split("](").nth(1)?.strip_suffix(')'))
        .collect();
    for name in [
        "steady-convergence.svg",
        "steady-latency.svg",
        "steady-speed.svg",
        "takeover-recovery.svg",
        "cost-bytes.svg",
        "cost-crypto.svg",
        "engines-speed.svg",
    ] {
        assert!(svgs.contains(&name), "{name} not embedded: {svgs:?}");
    }
    for name in &svgs {
        let t = texts(&read(&out, name));
        assert!(
            t.iter()
                .any(|s| s == "group size (members)" || s == "latency (ms)"),
            "{name}: {t:?}"
        );
        assert!(
            t.iter().any(|s| s.contains("lww")),
            "{name} has no legend: {t:?}"
        );
    }
    assert!(
        md.contains("lightweight lww on events stays above lightweight lww on turmoil"),
        "{md}"
    );
    assert!(md.contains("takeover, coordinated lww:"), "{md}");
    // Each run can be replayed from its saved scenario.
    let line = &report.runs[0].line;
    assert!(Path::new(line.file()).is_file(), "{}", line.file());

    let again = dir.path().join("again");
    let r = commsim(&[
        "report",
        "reports/specs/quick.toml",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(r.status.success());
    let c = commsim(&[
        "compare",
        &format!("{o}/results.json"),
        again.join("results.json").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&c.stdout);
    assert!(c.status.success(), "{text}");
    assert!(
        text.contains("matched: 44 runs")
            && text.contains("Every matched run has the same wire digest"),
        "{text}"
    );
}

/// A spec with a mistake is named by file, line and field, exit 2, and
/// nothing is run.
#[test]
fn a_bad_spec_names_its_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.toml");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/steady-membership.toml");
    let cases = [
        (
            "seeds = \"1..=2\"\nsizes = [5, 1]",
            "bad.toml:5:9: series[0].sizes: must list group sizes of at least 2",
        ),
        (
            "sizes = [5]\nseeds = \"3..=1\"",
            "bad.toml:5:9: series[0].seeds:",
        ),
        (
            "seeds = \"1..=2\"\nsizes = [5]\nengine = [\"events\"]",
            "bad.toml:6:1: (spec): unknown field `engine`",
        ),
        (
            "seeds = \"1..=2\"\nsizes = [5, 9000]",
            "bad.toml:5:9: series[0].sizes: 9000 members: scenarios/steady-membership.toml can be resized to 3 to 5000 members",
        ),
        (
            "seeds = \"1..=2\"\nsizes = [5]\n\n[[series]]\nname = \"s/t\"\nscenario = \"x\"\nseeds = \"1..=2\"\nsizes = [5]",
            "bad.toml:8:8: series[1].name: `s/t`: use letters",
        ),
        (
            "seeds = \"1..=2\"\nsizes = [5]\n\n[[series]]\nname = \"s\"\nmeasure = \"cost\"\nscenario = \"SCENARIO\"\nseeds = \"1..=2\"\nsizes = [8]",
            "bad.toml:8:8: series[1].name: series[0] is also named `s` but measures",
        ),
        (
            "seeds = \"1..=2\"\nsizes = [5]\n\n[[series]]\nname = \"t\"\nscenario = \"SCENARIO\"\nseeds = \"1..=2\"\nsizes = [5, 8]",
            "series[1].scenario: series[0] (`s`) already resizes a file named like",
        ),
        (
            "seeds = \"1..=2\"\nsizes = [5]\nvariants = [\"recipient-list\"]",
            "bad.toml:6:12: series[0].variants: scenarios/steady-membership.toml has no expectations for `recipient-list`",
        ),
    ];
    for (tail, expected) in cases {
        let tail = tail.replace("SCENARIO", &scenario.display().to_string());
        let text = format!(
            "[[series]]\nname = \"s\"\nscenario = \"{}\"\n{tail}\n",
            scenario.display()
        );
        std::fs::write(&spec, text).unwrap();
        let out = dir.path().join("out");
        let r = commsim(&[
            "report",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{tail}: {err}");
        assert!(
            err.contains(expected),
            "{tail}: expected {expected}, got {err}"
        );
        assert!(!out.join("results.json").exists());
    }
}

/// The committed report is the groups spec's report: it holds exactly the
/// runs the spec plans, and each resized scenario as the spec makes it
/// today. (Running it takes 12 minutes; `commsim report
/// reports/specs/groups.toml` regenerates it.)
#[test]
fn the_committed_report_is_the_specs() {
    use commsim::report::{plan::plan, spec::ReportSpec};
    // cargo runs tests in the package's root, where the spec's paths start.
    let spec = ReportSpec::load(Path::new("reports/specs/groups.toml")).unwrap();
    let out = Path::new("reports/groups");
    let plan = plan(&spec, out).unwrap();
    let report: Report = serde_json::from_str(&read(out, "results.json")).unwrap();
    let key = |file: &str, seed: u64, variant: String, engine: String| {
        (file.to_owned(), seed, variant, engine)
    };
    let mut planned: Vec<_> = (plan.runs.iter().map(|(job, _)| job))
        .map(|j| key(&j.file, j.seed, j.variant.to_string(), j.engine.to_string()))
        .collect();
    let mut committed: Vec<_> = (report.runs.iter())
        .map(|r| {
            key(
                r.line.file(),
                r.seed,
                r.line.variant().to_string(),
                r.line.engine().to_string(),
            )
        })
        .collect();
    planned.sort();
    committed.sort();
    assert_eq!(
        planned, committed,
        "reports/groups/ is not the spec's report: regenerate it"
    );
    for (path, text) in &plan.files {
        let saved = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            saved == *text,
            "{} differs from the spec's resizing: regenerate the report",
            path.display()
        );
    }
    assert_eq!(report.spec.series, plan.series);
}

/// `--out` never clears a folder that is not a report's: `--out .` in the
/// project must not delete the shipped scenarios.
#[test]
fn a_folder_that_is_not_a_reports_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("scenarios").join("mine.toml");
    std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
    std::fs::write(&kept, "precious").unwrap();
    let r = commsim(&[
        "report",
        "reports/specs/quick.toml",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("holds files but no report"), "{err}");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "precious");
}
