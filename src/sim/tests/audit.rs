//! A coordinated group over an instant network (every datagram arrives at
//! once, time jumps to the next wake-up), with c0 dropping `victim`'s
//! messages.

use crate::core::event::Event;
use crate::core::ids::{MemberId, Peer, ServerId};
use crate::core::io::{Command, FaultCommand, Input};
use crate::core::server::dishonest::{Dishonesty, Mode};
use crate::entropy::run_seeded;
use crate::scenario::{GroupKind, Scenario};
use crate::sim::testnet::Instant;

/// Only the victim speaks, so no other message ever takes the slot its
/// receipt names, and its message never comes back. Before it falls back
/// it asks the server, which says the next slot it fills is the one it
/// receipted: proof of the drop (issue 21 (8)). It falls back on the lie
/// and sends the message again over Olm.
#[test]
fn a_receipted_message_that_never_comes_back_is_proved_withheld() {
    run_seeded([11; 32], || {
        let mut s = Scenario::minimal(3, 2);
        s.topology.servers = 2;
        s.group_kind = GroupKind::Coordinated;
        let mut net = Instant::of(s);
        let lie = Dishonesty {
            mode: Mode::Drop,
            victim: Some(MemberId(1)),
            sides: None,
        };
        net.input(
            Peer::Server(ServerId(0)),
            Input::Fault(FaultCommand::Dishonest(Some(lie))),
        );
        let send = Command::Send {
            reply: false,
            pick: 0,
        };
        net.input(Peer::Member(MemberId(1)), Input::Command(send));
        net.run(20_000);
        let events = |host: &str| -> Vec<Event> {
            let records = net.world.trace.records.iter();
            records
                .filter(|r| r.host.to_string() == host)
                .filter_map(|r| r.event.host().cloned())
                .collect()
        };
        let fell = events("m1").into_iter().find_map(|e| match e {
            Event::FellBack {
                cause,
                reason,
                liar,
            } => {
                assert_eq!(liar, Some(ServerId(0)), "the server's answer is the proof");
                assert_eq!(cause, crate::core::event::FallbackCause::Lie);
                Some(reason)
            }
            _ => None,
        });
        let fell = fell.expect("m1 falls back");
        assert!(fell.contains("said the next slot it fills is 0"), "{fell}");
        let accused = events("m1")
            .iter()
            .any(|e| matches!(e, Event::EquivocationDetected { seq: 0, .. }));
        assert!(accused, "the victim records the proof");
        let dropped = crate::core::ids::MessageId {
            sender: MemberId(1),
            seq: 0,
        };
        for m in ["m0", "m2"] {
            let got = events(m)
                .iter()
                .filter(|e| matches!(e, Event::Delivered { msg } if *msg == dropped))
                .count();
            assert_eq!(got, 1, "{m} gets the dropped message over Olm");
            // It came as `Resent`, naming the order that receipted it:
            // held while the receiver still followed that order, taken
            // once it fell back itself (issue 21 (6)).
            let at = |f: &dyn Fn(&Event) -> bool| events(m).iter().position(f);
            let fell = at(&|e| matches!(e, Event::FellBack { .. })).expect("falls back");
            let got = at(&|e| matches!(e, Event::Delivered { msg } if *msg == dropped));
            assert!(got > Some(fell), "{m} delivered it before its fallback");
        }
    });
}
