use super::*;

/// Membership as members saw it: the changes they asked for and the views
/// they held, and the forks they reported.
#[derive(Clone, Debug, Default)]
pub struct Membership {
    pub changes: Vec<At<Change>>,
    pub ops: Vec<At<Op>>,
    pub fork_reports: Vec<At<BTreeSet<MemberId>>>,
    pub renames: Vec<At<Renamed>>,
    /// Each time a member took up a rename (its stamp).
    pub renames_applied: Vec<At<crate::core::clock::Hlc>>,
}

impl Membership {
    /// Takes in one record; `false` when it was this part's to use and
    /// could not be (on the wrong host, say).
    pub(super) fn note(&mut self, idx: usize, r: &Record, host: Option<MemberId>) -> bool {
        let t = r.t;
        let mut ok = true;
        match &r.event {
            Event::Host(HostEvent::MembershipChanged { view, in_group, .. }) => {
                let c = Change {
                    view: view.iter().copied().collect(),
                    in_group: *in_group,
                };
                match At::on(host, t, idx, c) {
                    Some(a) => self.changes.push(a),
                    None => ok = false,
                }
            }
            Event::Host(HostEvent::MembershipOp { msg, op, target }) => {
                let o = Op {
                    msg: *msg,
                    op: *op,
                    target: *target,
                };
                match At::on(host, t, idx, o) {
                    Some(a) => self.ops.push(a),
                    None => ok = false,
                }
            }
            Event::Host(HostEvent::GroupRenamed {
                msg,
                name,
                picture,
                stamp,
            }) => {
                let meta = crate::core::member::particle::GroupMeta {
                    name: name.clone(),
                    picture: picture.clone(),
                    stamp: *stamp,
                };
                match At::on(host, t, idx, Renamed { msg: *msg, meta }) {
                    Some(a) => self.renames.push(a),
                    None => ok = false,
                }
            }
            Event::Host(HostEvent::RenameApplied { stamp, .. }) => {
                match At::on(host, t, idx, *stamp) {
                    Some(a) => self.renames_applied.push(a),
                    None => ok = false,
                }
            }
            Event::Host(HostEvent::ForkDetected { other_side, .. }) => {
                match At::on(host, t, idx, other_side.iter().copied().collect()) {
                    Some(a) => self.fork_reports.push(a),
                    None => ok = false,
                }
            }
            _ => {}
        }
        ok
    }
}
