//! The fork mode of the dishonest-server fault, on the server alone.

use super::dishonest::fanned;
use super::*;
use crate::core::event::Event;
use crate::core::server::agent::fork::{FORK_WINDOW_MS, PADDING};
use crate::core::server::dishonest::{Dishonesty, Mode, Sides};
use crate::core::server::sequencer::{FraudProof, Receipt};

/// c0 forks m0 (side a) from m1 and m2 (side b).
fn forking() -> Setup {
    let mut s = setup();
    let d = Dishonesty {
        mode: Mode::Fork,
        victim: None,
        sides: Some(Sides {
            a: [MemberId(0)].into(),
            b: [MemberId(1), MemberId(2)].into(),
        }),
    };
    s.server
        .handle(0, Input::Fault(FaultCommand::Dishonest(Some(d))));
    s
}

/// The submission's effects: what was sent, and the lies recorded.
fn submit_fx(
    server: &mut ServerAgent,
    now: u64,
    from: u32,
    kind: Kind,
    epoch: u64,
    payload: &[u8],
) -> (Vec<(Peer, Datagram)>, Vec<Event>) {
    let submission = Submission {
        group: 1,
        generation: 1,
        epoch,
        kind,
        payload: payload.to_vec(),
        members_after: None,
        joiners: Vec::new(),
    };
    let fx = server.handle(
        now,
        Input::Datagram {
            from: Peer::Member(MemberId(from)),
            bytes: Datagram::Submit { req: 3, submission }.encode(),
        },
    );
    let lies = (fx.0.iter())
        .filter_map(|e| match e {
            Effect::Record(l @ Event::Lied { .. }) => Some(l.clone()),
            _ => None,
        })
        .collect();
    (sends(fx), lies)
}

fn receipt(out: &[(Peer, Datagram)]) -> Result<Receipt, Rejection> {
    match &out[0].1 {
        Datagram::Receipted { receipt, .. } => Ok(receipt.clone()),
        Datagram::SubmitRejected { rejection, .. } => Err(rejection.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn two_commits_for_one_epoch_go_to_the_two_sides_in_one_slot() {
    run_seeded([11; 32], || {
        let Setup { mut server, .. } = forking();
        let key = server.public_key();
        let (a, lies) = submit_fx(&mut server, 0, 0, Kind::Commit, 0, b"x");
        assert!(lies.is_empty(), "no lie until the other side commits");
        let x = receipt(&a).unwrap();
        assert_eq!(fanned(&a, 0).len(), 1, "side a gets x at once");
        assert!(fanned(&a, 1).is_empty() && fanned(&a, 2).is_empty());
        // An honest server would reject m1's commit as stale.
        let (b, lies) = submit_fx(&mut server, 40, 1, Kind::Commit, 0, b"y");
        let y = receipt(&b).unwrap();
        assert_eq!((x.seq, y.seq), (0, 0), "one slot, two commits");
        assert!(FraudProof::check(&x, &y, &key).is_some());
        for m in [1, 2] {
            let got = fanned(&b, m);
            assert_eq!(got[0].receipt, y, "side b gets y in x's place");
            assert_eq!(got.len() as u64, 1 + PADDING);
        }
        let filler = fanned(&b, 0);
        assert_eq!(filler.len() as u64, PADDING, "side a gets the filler only");
        assert_eq!(
            filler[0].receipt,
            fanned(&b, 1)[1].receipt,
            "one receipt per slot"
        );
        assert!(filler.iter().all(|o| o.receipt.verify(&key)));
        let to: Vec<Vec<MemberId>> = (lies.iter())
            .map(|l| match l {
                Event::Lied { mode, to, seq, .. } => {
                    assert_eq!((*mode, *seq), (super::super::dishonest::Mode::Fork, 0));
                    to.clone()
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(to, [vec![MemberId(0)], vec![MemberId(1), MemberId(2)]]);
        // From now on each side orders on its own epochs, on one counter,
        // and every slot goes to everyone.
        let (b2, _) = submit_fx(&mut server, 60, 2, Kind::Commit, 1, b"b's next");
        let (a2, _) = submit_fx(&mut server, 70, 0, Kind::Commit, 1, b"a's next");
        let (b2, a2) = (receipt(&b2).unwrap(), receipt(&a2).unwrap());
        assert_eq!((b2.seq, a2.seq), (1 + PADDING, 2 + PADDING));
        let (a3, _) = submit_fx(&mut server, 80, 0, Kind::Message, 2, b"hi");
        assert_eq!(receipt(&a3).unwrap().seq, 3 + PADDING);
        assert_eq!((0..3).map(|m| fanned(&a3, m).len()).sum::<usize>(), 3);
        let (stale, _) = submit_fx(&mut server, 90, 1, Kind::Message, 1, b"old");
        assert_eq!(
            receipt(&stale),
            Err(Rejection::StaleEpoch {
                submitted: 1,
                current: 2
            }),
            "side b is at its own epoch 2"
        );
    });
}

#[test]
fn without_a_commit_of_the_other_side_the_held_one_goes_out_honestly() {
    run_seeded([12; 32], || {
        let Setup { mut server, .. } = forking();
        let (a, _) = submit_fx(&mut server, 0, 0, Kind::Commit, 0, b"x");
        let x = receipt(&a).unwrap();
        // Meanwhile side b is behind, as with an honest server.
        submit_fx(&mut server, 10, 1, Kind::Message, 0, b"m1 at epoch 0");
        let woken = sends(server.handle(FORK_WINDOW_MS + 1, Input::Wake));
        for m in [1, 2] {
            assert_eq!(fanned(&woken, m)[0].receipt, x);
        }
        let (late, lies) = submit_fx(&mut server, FORK_WINDOW_MS + 50, 1, Kind::Commit, 0, b"y");
        assert!(lies.is_empty());
        assert!(matches!(
            receipt(&late),
            Err(Rejection::StaleEpoch { current: 1, .. })
        ));
    });
}

#[test]
fn commits_of_one_side_do_not_fork() {
    run_seeded([13; 32], || {
        let Setup { mut server, .. } = forking();
        receipt(&submit_fx(&mut server, 0, 1, Kind::Commit, 0, b"x").0).unwrap();
        let (same_side, lies) = submit_fx(&mut server, 10, 2, Kind::Commit, 0, b"y");
        assert!(lies.is_empty());
        assert!(receipt(&same_side).is_err());
        // The fault ends while a commit is held: it goes out at once.
        let out = sends(server.handle(20, Input::Fault(FaultCommand::Dishonest(None))));
        assert_eq!(fanned(&out, 0).len(), 1);
    });
}
