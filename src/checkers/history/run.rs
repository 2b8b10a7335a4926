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
            } => {
                let f = Final {
                    in_group: *in_group,
                    view: view.iter().copied().collect(),
                    state_lost: *state_lost,
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
