//! MLS client tests: a real group through its whole life, ordered by hand
//! the way a server agent orders it, and determinism under a seed.

use super::*;
use crate::entropy::{run_seeded, unseeded_draws};

fn client(name: &str, n: u8) -> MlsClient {
    MlsClient::new(name.as_bytes(), [n; 32]).expect("client")
}

/// Delivers one ordered message to every listed client.
fn fan_out(msg: &[u8], to: &mut [&mut MlsClient]) -> Vec<Processed> {
    to.iter_mut()
        .map(|c| c.process(msg).expect("processes"))
        .collect()
}

/// Everything a run of the group's life put on the wire, for comparison.
fn life() -> Vec<Vec<u8>> {
    let mut wire = Vec::new();
    let (mut a, mut b, mut c) = (client("alice", 1), client("bob", 2), client("carol", 3));
    a.create_group(b"group-1").unwrap();
    let kps = vec![b.key_package().unwrap(), c.key_package().unwrap()];
    let add = a.add(&kps).unwrap();
    assert_eq!(add.epoch, 0);
    // The server agent accepts it and echoes it back to the committer.
    assert_eq!(
        a.process(&add.commit).unwrap(),
        Processed::Commit {
            epoch: 1,
            aad: Vec::new()
        }
    );
    let welcome = add.welcome.clone().unwrap();
    assert_eq!(b.join(&welcome).unwrap(), 1);
    assert_eq!(c.join(&welcome).unwrap(), 1);
    assert_eq!(a.epoch_authenticator(), b.epoch_authenticator());
    assert_eq!(b.epoch_authenticator(), c.epoch_authenticator());
    wire.extend([add.commit, welcome]);

    let hello = a.encrypt(b"commsim-plaintext-marker: hello").unwrap();
    assert!(
        !hello.windows(8).any(|w| w == b"commsim-"),
        "ciphertext on the wire"
    );
    assert_eq!(
        fan_out(&hello, &mut [&mut b, &mut c]),
        vec![Processed::Application(b"commsim-plaintext-marker: hello".to_vec()); 2]
    );
    wire.push(hello);

    // Two members commit on the same epoch; the server orders b's first.
    let update = b.self_update().unwrap();
    let removal = c.remove(&[b"alice".to_vec()]).unwrap();
    assert_eq!((update.epoch, removal.epoch), (1, 1));
    fan_out(&update.commit, &mut [&mut a, &mut b, &mut c]);
    // c's commit lost the epoch: c drops it (the echo of b's commit has
    // already moved c on) and rebases onto epoch 2.
    assert_eq!(c.epoch(), Some(2));
    // What the committer authenticates with its commit reaches every
    // member that processes it, the committer's own echo included.
    c.stamp_next(b"carol's stamp".to_vec());
    let rebased = c.remove(&[b"alice".to_vec()]).unwrap();
    assert_eq!(rebased.epoch, 2);
    let processed = fan_out(&rebased.commit, &mut [&mut a, &mut b, &mut c]);
    assert!(
        processed.iter().all(
            |p| matches!(p, Processed::Commit { aad, .. } if aad.as_slice() == b"carol's stamp")
        )
    );
    assert!(!a.is_active(), "alice was removed");
    assert_eq!(b.members(), c.members());
    assert_eq!(b.epoch_authenticator(), c.epoch_authenticator());
    wire.extend([update.commit, removal.commit, rebased.commit]);

    // A removed member cannot read the next epoch.
    let secret = b.encrypt(b"after alice left").unwrap();
    assert_eq!(
        c.process(&secret).unwrap(),
        Processed::Application(b"after alice left".to_vec())
    );
    assert!(a.process(&secret).is_err());
    wire.push(secret);
    wire
}

#[test]
fn a_group_lives_through_adds_concurrent_commits_removal_and_secrecy() {
    run_seeded([9; 32], || {
        life();
        assert_eq!(unseeded_draws(), 0);
    });
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let first = run_seeded([4; 32], life);
    let again = run_seeded([4; 32], life);
    assert_eq!(first, again);
    let other = run_seeded([5; 32], life);
    assert_ne!(first, other);
}

#[test]
fn garbage_is_an_error_and_the_group_survives() {
    run_seeded([6; 32], || {
        let (mut a, mut b) = (client("alice", 1), client("bob", 2));
        a.create_group(b"g").unwrap();
        let add = a.add(&[b.key_package().unwrap()]).unwrap();
        a.process(&add.commit).unwrap();
        b.join(add.welcome.as_ref().unwrap()).unwrap();
        for junk in [vec![], vec![0xff; 50], add.welcome.clone().unwrap()] {
            assert!(b.process(&junk).is_err());
        }
        assert!(b.join(&[1, 2, 3]).is_err());
        let m = a.encrypt(b"still fine").unwrap();
        assert_eq!(
            b.process(&m).unwrap(),
            Processed::Application(b"still fine".to_vec())
        );
        assert_eq!(b.ops.failures, 3);
    });
}

/// Post-removal secrecy, tested on the very state a removed member could
/// keep: carol's client copies itself just before applying the commit that
/// removes her. The copy is live (it still reads an epoch-1 message it had
/// not seen) but cannot read the next epoch; a copy of bob, taken at the
/// same point and handed the same commit, can.
#[test]
fn a_copy_kept_before_removal_cannot_read_the_next_epoch() {
    run_seeded([7; 32], || {
        let (mut a, mut b, mut c) = (client("alice", 1), client("bob", 2), client("carol", 3));
        a.create_group(b"g").unwrap();
        let add = a
            .add(&[b.key_package().unwrap(), c.key_package().unwrap()])
            .unwrap();
        a.process(&add.commit).unwrap();
        let welcome = add.welcome.unwrap();
        b.join(&welcome).unwrap();
        c.join(&welcome).unwrap();
        b.keep_copy_when_removed();
        c.keep_copy_when_removed();

        let unread = a.encrypt(b"before the removal").unwrap();
        let removal = a.remove(&[b"carol".to_vec()]).unwrap();
        let mut bob = b.copy().unwrap();
        fan_out(&removal.commit, &mut [&mut a, &mut b, &mut c]);
        assert!(!c.is_active());
        assert!(b.removal_copy().is_none(), "bob was not removed");
        let kept = c.removal_copy().expect("carol kept a copy");
        assert_eq!((kept.epoch(), kept.is_active()), (Some(1), true));
        assert_eq!(
            kept.copy().unwrap().process(&unread).unwrap(),
            Processed::Application(b"before the removal".to_vec())
        );

        let later = a.encrypt(b"after carol left").unwrap();
        let mut carol = kept.copy().unwrap();
        assert!(carol.process(&later).is_err());
        assert_eq!(
            bob.process(&removal.commit).unwrap(),
            Processed::Commit {
                epoch: 2,
                aad: Vec::new()
            }
        );
        assert_eq!(
            bob.process(&later).unwrap(),
            Processed::Application(b"after carol left".to_vec())
        );
        assert_eq!(unseeded_draws(), 0);
    });
}
