//! The fault schedule as an ordered list of actions: each fault begins at
//! its `at` and, if it has one, ends at its `until`.

use super::kind::Fault;
use crate::core::ids::Millis;

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Begin(usize),
    End(usize),
}

#[derive(Clone, Debug)]
pub struct Timeline {
    pub faults: Vec<Fault>,
    /// (time, action), in time order; ends before begins at equal times so
    /// that back-to-back faults do not overlap.
    actions: Vec<(Millis, Action)>,
    next: usize,
}

impl Timeline {
    pub fn new(faults: Vec<Fault>) -> Self {
        let mut actions = Vec::new();
        for (i, f) in faults.iter().enumerate() {
            actions.push((f.at_ms, Action::Begin(i)));
            if let Some(u) = f.until_ms {
                actions.push((u, Action::End(i)));
            }
        }
        actions.sort_by_key(|(t, a)| (*t, matches!(a, Action::Begin(_)), action_index(a)));
        Timeline {
            faults,
            actions,
            next: 0,
        }
    }

    /// When the next action is due.
    pub fn next_at(&self) -> Option<Millis> {
        self.actions.get(self.next).map(|(t, _)| *t)
    }

    /// Actions due at or before `now`, in order.
    pub fn due(&mut self, now: Millis) -> Vec<(Action, Fault)> {
        let mut out = Vec::new();
        while let Some((t, a)) = self.actions.get(self.next) {
            if *t > now {
                break;
            }
            let i = action_index(a);
            out.push((a.clone(), self.faults[i].clone()));
            self.next += 1;
        }
        out
    }
}

fn action_index(a: &Action) -> usize {
    match a {
        Action::Begin(i) | Action::End(i) => *i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultKind;

    #[test]
    fn ends_come_before_begins_at_the_same_time() {
        let f = |at, until| Fault {
            at_ms: at,
            until_ms: Some(until),
            kind: FaultKind::Loss { rate: 0.1 },
        };
        let mut t = Timeline::new(vec![f(10, 20), f(20, 30)]);
        assert!(t.due(5).is_empty());
        assert_eq!(t.due(10).len(), 1);
        let at20: Vec<Action> = t.due(20).into_iter().map(|(a, _)| a).collect();
        assert_eq!(at20, vec![Action::End(0), Action::Begin(1)]);
    }
}
