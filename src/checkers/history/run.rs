use super::*;

/// The run itself: how it started and ended, each member's final view, and
/// the commands members refused.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub start: Option<Start>,
    /// Member hosts named in `RunEnded`; `None` when the trace has no end.
    pub running: Option<BTreeSet<MemberId>>,
    /// Per member host, the commands it refused (`command_skipped`), by
    /// the command's own description.
    pub skips: Vec<At<String>>,
    /// When the run ended (the `run_ended` record's time).
    pub ended_at: Option<Millis>,
    pub finals: BTreeMap<MemberId, Final>,
    /// Members restarting without their volatile state: what they had not
    /// handed on yet is gone with it.
    pub volatile_lost: Vec<At<()>>,
}

impl Run {
    /// Takes in one record; `false` when it was this part's to use and
    /// could not be (on the wrong host, say).
    pub(super) fn note(
        &mut self,
        idx: usize,
        r: &Record,
        host: Option<MemberId>,
        oddities: &mut Vec<String>,
    ) -> bool {
        let t = r.t;
        let mut ok = true;
        match &r.event {
            Event::RunStarted {
                members,
                founders,
                bounds,
                ops,
                ..
            } => {
                if self.start.is_some() {
                    oddities.push(format!("record {idx}: second run_started ignored"));
                } else {
                    self.start = Some(Start {
                        bounds: bounds.clone(),
                        members: members.clone(),
                        founders: founders.clone(),
                        planned: ops.clone(),
                    });
                }
            }
            Event::Host(HostEvent::CommandSkipped { command, .. }) => {
                match At::on(host, t, idx, command.clone()) {
                    Some(a) => self.skips.push(a),
                    None => ok = false,
                }
            }
            Event::Host(HostEvent::MemberStarted {
                restart: true,
                volatile_lost: true,
            }) => match At::on(host, t, idx, ()) {
                Some(a) => self.volatile_lost.push(a),
                None => ok = false,
            },
            Event::RunEnded { running } => {
                let set = running.iter().filter_map(|n| match n {
                    Peer::Member(m) => Some(*m),
                    _ => None,
                });
                self.running.get_or_insert_with(BTreeSet::new).extend(set);
                self.ended_at = Some(t);
            }
            Event::FinalView {
                member,
                in_group,
                view,
                state_lost,
                meta,
            } => {
                let f = Final {
                    in_group: *in_group,
                    view: view.iter().copied().collect(),
                    state_lost: *state_lost,
                    meta: meta.clone(),
                };
                if self.finals.insert(*member, f).is_some() {
                    oddities.push(format!("record {idx}: second final view of {member}"));
                }
            }
            _ => {}
        }
        ok
    }
}

/// Questions the checkers ask of this part.
impl Run {
    pub fn bounds(&self) -> Option<&Bounds> {
        self.start.as_ref().map(|s| &s.bounds)
    }

    /// Up at the end and still holding its state: only such a member can be
    /// blamed for what it does not hold.
    pub fn reachable(&self, m: MemberId) -> bool {
        self.running.as_ref().is_some_and(|r| r.contains(&m))
            && self.finals.get(&m).is_some_and(|f| !f.state_lost)
    }

    /// Reachable members whose final view says they are in the group.
    pub fn considered(&self) -> BTreeMap<MemberId, &Final> {
        self.finals
            .iter()
            .filter(|(m, f)| f.in_group && self.reachable(**m))
            .map(|(m, f)| (*m, f))
            .collect()
    }

    pub fn agreement(&self) -> Agreement {
        let mut by_view: BTreeMap<&BTreeSet<MemberId>, Vec<MemberId>> = BTreeMap::new();
        for (m, f) in self.considered() {
            by_view.entry(&f.view).or_default().push(m);
        }
        let groups: Vec<ViewGroup> = by_view
            .into_iter()
            .map(|(view, holders)| ViewGroup {
                view: view.clone(),
                holders,
            })
            .collect();
        match groups.len() {
            0 => Agreement::Nobody,
            1 => Agreement::Agreed(groups[0].clone()),
            _ => {
                let disjoint = groups
                    .iter()
                    .enumerate()
                    .all(|(i, a)| groups[i + 1..].iter().all(|b| a.view.is_disjoint(&b.view)));
                if disjoint {
                    Agreement::Islands(groups)
                } else {
                    Agreement::Diverged(groups)
                }
            }
        }
    }
}
