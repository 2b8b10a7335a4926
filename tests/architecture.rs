//! The import graph of `src/`, held to the architecture `docs/architecture.md`
//! draws: the top-level modules stand on floors and import only from lower
//! ones, and no files import each other in a circle. Test code counts:
//! a unit test that reaches up a floor ties the floors together as surely
//! as the code it tests would.
//!
//! Every `crate::`, `super::` and `self::` path of every file (in `use`
//! items and in code) is an edge to the file that defines what it names.
//! A path to a module whose `mod.rs` re-exports the name (`pub use x::Y`)
//! is followed to the file that defines it. A module file (`x/mod.rs`,
//! or `x.rs` beside a folder `x/`) is its folder's interface: it declares
//! its children, re-exports them and wires them together, so its edges to
//! its own children are not counted. Every other edge is, a child's edge
//! to its parent included: a child that uses what its parent defines, while
//! the parent's code calls a sibling that uses the child, is a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// The floors, lowest first. A module imports only from lower floors; the
/// modules of one floor import nothing from each other.
const FLOORS: &[&[&str]] = &[
    &["entropy"],
    &["core"],
    &["faults", "observations"],
    &["trace"],
    &["scenario"],
    &["sim"],
    &["checkers", "coverage"],
    &["explore"],
    &["report"],
    &["cli"],
];

type Module = Vec<String>;

struct Tree {
    /// Each module that is a file, and the file.
    files: BTreeMap<Module, PathBuf>,
    /// Per module file: names it re-exports, and the path they come from.
    reexports: BTreeMap<Module, BTreeMap<String, Module>>,
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut m: Module = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if m.last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        m.pop();
    }
    m
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every path a file names, as written, with the inline module it is in.
#[derive(Default)]
struct Paths {
    inline: Vec<String>,
    found: Vec<(Vec<String>, Vec<String>)>,
    reexports: Vec<(String, Vec<String>)>,
}

impl Paths {
    fn tree(&mut self, prefix: &[String], tree: &syn::UseTree, public: bool) {
        match tree {
            syn::UseTree::Path(p) => {
                let mut pre = prefix.to_vec();
                pre.push(p.ident.to_string());
                self.tree(&pre, &p.tree, public);
            }
            syn::UseTree::Name(n) => {
                self.used(prefix, &n.ident.to_string(), &n.ident.to_string(), public)
            }
            syn::UseTree::Rename(r) => {
                self.used(prefix, &r.ident.to_string(), &r.rename.to_string(), public)
            }
            syn::UseTree::Glob(_) => self.used(prefix, "*", "*", public),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.tree(prefix, t, public);
                }
            }
        }
    }

    fn used(&mut self, prefix: &[String], name: &str, alias: &str, public: bool) {
        let mut path = prefix.to_vec();
        if name != "self" {
            path.push(name.to_owned());
        }
        if public && self.inline.is_empty() && name != "*" {
            self.reexports.push((alias.to_owned(), path.clone()));
        }
        self.found.push((self.inline.clone(), path));
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let public = matches!(
            u.vis,
            syn::Visibility::Public(_) | syn::Visibility::Restricted(_)
        );
        self.tree(&[], &u.tree, public);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.inline.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.inline.pop();
        }
    }

    /// `pub(super)` names who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segs
            .first()
            .is_some_and(|s| s == "crate" || s == "super" || s == "self")
        {
            self.found.push((self.inline.clone(), segs));
        }
        syn::visit::visit_path(self, p);
    }
}

impl Tree {
    /// The file defining what `path` names, written in module `at`.
    fn resolve(&self, at: &Module, path: &[String]) -> Option<Module> {
        let mut abs: Module = Vec::new();
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => rest = &rest[1..],
            Some("self") => {
                abs = at.clone();
                rest = &rest[1..];
            }
            Some("super") => {
                abs = at.clone();
                while rest.first().is_some_and(|s| s == "super") {
                    abs.pop()?;
                    rest = &rest[1..];
                }
            }
            _ => {
                // A path relative to the module: a child module, if any.
                abs = at.clone();
                let mut child = abs.clone();
                child.push(rest.first()?.clone());
                if !self.files.contains_key(&child) {
                    return None;
                }
            }
        }
        abs.extend(rest.iter().cloned());
        self.longest_file(&abs, 0)
    }

    /// The longest prefix of `abs` that is a module file, following
    /// re-exports of the next segment.
    fn longest_file(&self, abs: &[String], depth: usize) -> Option<Module> {
        for len in (0..=abs.len()).rev() {
            let m: Module = abs[..len].to_vec();
            if !self.files.contains_key(&m) {
                continue;
            }
            if let (Some(next), true) = (abs.get(len), depth < 8)
                && let Some(target) = self.reexports.get(&m).and_then(|r| r.get(next))
            {
                let mut again = target.clone();
                again.extend(abs[len + 1..].iter().cloned());
                return self.longest_file(&again, depth + 1);
            }
            return Some(m);
        }
        None
    }
}

/// Module-file edges of `src/`, folder interfaces left out.
fn edges() -> BTreeSet<(Module, Module)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut tree = Tree {
        files: BTreeMap::new(),
        reexports: BTreeMap::new(),
    };
    let mut parsed = Vec::new();
    for f in &files {
        let m = module_of(&src, f);
        let text = std::fs::read_to_string(f).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut paths = Paths::default();
        paths.visit_file(&ast);
        tree.files.insert(m.clone(), f.clone());
        parsed.push((m, paths));
    }
    for (m, paths) in &parsed {
        let mut map = BTreeMap::new();
        for (alias, path) in &paths.reexports {
            let mut abs = match path.first().map(String::as_str) {
                Some("crate") => path[1..].to_vec(),
                Some("super") => {
                    let mut a = m.clone();
                    a.pop();
                    a.extend(path[1..].iter().cloned());
                    a
                }
                Some("self") => [m.clone(), path[1..].to_vec()].concat(),
                _ => [m.clone(), path.clone()].concat(),
            };
            if abs.is_empty() {
                continue;
            }
            // `pub use x::Y` names Y in x; `pub use x` names module x.
            if tree.files.contains_key(&abs) {
                map.insert(alias.clone(), abs);
            } else {
                abs.retain(|s| s != "self");
                map.insert(alias.clone(), abs);
            }
        }
        tree.reexports.insert(m.clone(), map);
    }
    let mut out = BTreeSet::new();
    for (m, paths) in &parsed {
        for (inline, path) in &paths.found {
            let at: Module = [m.clone(), inline.clone()].concat();
            let Some(target) = tree.resolve(&at, path) else {
                continue;
            };
            let interface = |a: &Module, b: &Module| b.len() == a.len() + 1 && b.starts_with(a);
            if &target != m && !target.is_empty() && !m.is_empty() && !interface(m, &target) {
                out.insert((m.clone(), target));
            }
        }
    }
    out
}

fn show(m: &Module) -> String {
    m.join("::")
}

/// Circles of module files: strongly connected components of more than
/// one file (Tarjan's algorithm, iterating in a fixed order).
fn circles(edges: &BTreeSet<(Module, Module)>) -> Vec<Vec<Module>> {
    let mut adj: BTreeMap<&Module, Vec<&Module>> = BTreeMap::new();
    for (a, b) in edges {
        adj.entry(a).or_default().push(b);
        adj.entry(b).or_default();
    }
    struct S<'a> {
        adj: &'a BTreeMap<&'a Module, Vec<&'a Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut S<'a>, v: &'a Module) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        for &w in &s.adj[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = S {
        adj: &adj,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in adj.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn floor(m: &Module) -> Option<usize> {
    let top = m.first()?;
    FLOORS.iter().position(|f| f.contains(&top.as_str()))
}

#[test]
fn no_file_imports_up_a_floor() {
    let mut bad = Vec::new();
    for (a, b) in &edges() {
        if a[0] == b[0] {
            continue;
        }
        let (fa, fb) = (floor(a), floor(b));
        let (Some(fa), Some(fb)) = (fa, fb) else {
            bad.push(format!("{} -> {}: a module on no floor", show(a), show(b)));
            continue;
        };
        if fb >= fa {
            bad.push(format!("{} -> {}", show(a), show(b)));
        }
    }
    assert!(
        bad.is_empty(),
        "imports up (or across) a floor ({}):\n  {}",
        bad.len(),
        bad.join("\n  ")
    );
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let found = circles(&edges());
    let shown: Vec<String> = (found.iter())
        .map(|c| c.iter().map(show).collect::<Vec<_>>().join(" <-> "))
        .collect();
    assert!(
        shown.is_empty(),
        "{} circles:\n  {}",
        shown.len(),
        shown.join("\n  ")
    );
}

/// The analysis itself can fail: a circle and an upward edge drawn in by
/// hand are found.
#[test]
fn the_analysis_finds_a_circle_and_an_upward_edge() {
    let m = |s: &str| s.split("::").map(str::to_owned).collect::<Module>();
    let drawn: BTreeSet<(Module, Module)> = [
        (m("checkers::history"), m("checkers::coordination")),
        (m("checkers::coordination"), m("checkers::history")),
        (m("core::member::tests"), m("sim::setup")),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        circles(&drawn),
        [vec![m("checkers::coordination"), m("checkers::history")]]
    );
    assert!(floor(&m("sim::setup")) > floor(&m("core::member::tests")));
    // And on the real tree, the edges it must see are seen.
    let real = edges();
    assert!(real.contains(&(m("checkers::delivery"), m("checkers::history"))));
    assert!(real.contains(&(m("sim::fault_plan"), m("trace::event"))));
}
