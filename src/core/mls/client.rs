//! One member's MLS state for a coordinated group, over openmls.
//!
//! The client never decides ordering: it prepares a commit and keeps it
//! pending until the server agent says whether it won its epoch
//! (`confirm_pending`) or lost it (`discard_pending`, then rebase).

use super::provider::{SimProvider, signature_keys};
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;

/// RFC 9420 ciphersuite 1.
pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("mls: {0}")]
pub struct MlsError(String);

fn err(e: impl std::fmt::Debug) -> MlsError {
    MlsError(format!("{e:?}"))
}

/// What a processed group message turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Processed {
    Application(Vec<u8>),
    /// A commit, now merged: the group is at `epoch`. `aad` is what its
    /// committer authenticated with it (see `MlsClient::stamp_next`).
    Commit {
        epoch: u64,
        aad: Vec<u8>,
    },
    Proposal,
    /// Our own message, echoed back by the server agent in its order.
    Own,
}

/// A commit prepared locally and not yet ordered by the server agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub epoch: u64,
    pub commit: Vec<u8>,
    pub welcome: Option<Vec<u8>>,
}

/// MLS operations, counted for the performance report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MlsOps {
    /// Commits built here, and others' commits processed here.
    pub commits: u64,
    pub commits_processed: u64,
    pub welcomes_joined: u64,
    pub encryptions: u64,
    pub decryptions: u64,
    pub failures: u64,
}

impl MlsOps {
    /// Operations that cost crypto: failures are counted apart.
    pub fn total(&self) -> u64 {
        self.commits
            + self.commits_processed
            + self.welcomes_joined
            + self.encryptions
            + self.decryptions
    }
}

impl std::ops::AddAssign for MlsOps {
    fn add_assign(&mut self, o: MlsOps) {
        self.commits += o.commits;
        self.commits_processed += o.commits_processed;
        self.welcomes_joined += o.welcomes_joined;
        self.encryptions += o.encryptions;
        self.decryptions += o.decryptions;
        self.failures += o.failures;
    }
}

pub struct MlsClient {
    provider: SimProvider,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
    group: Option<MlsGroup>,
    pub ops: MlsOps,
    /// Set by the simulator only: a removed member that ignores its
    /// removal still holds its state from just before the removing commit,
    /// and post-removal secrecy is tested against exactly that state.
    keep_removal_copy: bool,
    removal_copy: Option<Box<MlsClient>>,
    /// What the next own commit authenticates, and what its echo reports.
    pending_aad: Vec<u8>,
}

/// Key packages and leaf nodes carry a validity period that openmls would
/// take from the wall clock. A fixed, always-valid one keeps the bytes on
/// the wire the same on any day; the simulation's own clocks are what
/// protocol timeouts use.
fn lifetime() -> Lifetime {
    Lifetime::init(0, u64::MAX)
}

fn serialize(m: &MlsMessageOut) -> Result<Vec<u8>, MlsError> {
    m.tls_serialize_detached().map_err(err)
}

fn deserialize(bytes: &[u8]) -> Result<MlsMessageBodyIn, MlsError> {
    let mut slice = bytes;
    let m = MlsMessageIn::tls_deserialize(&mut slice).map_err(err)?;
    if !slice.is_empty() {
        return Err(MlsError(format!("{} trailing bytes", slice.len())));
    }
    Ok(m.extract())
}

impl MlsClient {
    /// `identity` goes into the basic credential (the member's IPK); `seed`
    /// is the member's own random stream.
    pub fn new(identity: &[u8], seed: [u8; 32]) -> Result<Self, MlsError> {
        let provider = SimProvider::new(seed);
        let signer = signature_keys(&provider).map_err(err)?;
        signer.store(provider.storage()).map_err(err)?;
        let credential = CredentialWithKey {
            credential: BasicCredential::new(identity.to_vec()).into(),
            signature_key: signer.public().into(),
        };
        Ok(MlsClient {
            provider,
            signer,
            credential,
            group: None,
            ops: MlsOps::default(),
            keep_removal_copy: false,
            pending_aad: Vec::new(),
            removal_copy: None,
        })
    }

    /// From now on, keep a copy of this client whenever it is about to
    /// apply a commit that removes it (see [`MlsClient::removal_copy`]).
    pub fn keep_copy_when_removed(&mut self) {
        self.keep_removal_copy = true;
    }

    /// This client as it was just before it applied the last commit that
    /// removed it, if asked to keep one.
    pub fn removal_copy(&self) -> Option<&MlsClient> {
        self.removal_copy.as_deref()
    }

    /// An independent copy of this client, group state and keys included.
    /// The copy keeps no removal copies of its own.
    pub fn copy(&self) -> Result<MlsClient, MlsError> {
        let provider = self.provider.fork().map_err(err)?;
        let group = match &self.group {
            Some(g) => Some(
                MlsGroup::load(provider.storage(), g.group_id())
                    .map_err(err)?
                    .ok_or_else(|| MlsError("the group is not in storage".into()))?,
            ),
            None => None,
        };
        // The signer was stored at creation, so the copied storage has it.
        let signer = SignatureKeyPair::read(
            provider.storage(),
            self.signer.public(),
            self.signer.signature_scheme(),
        )
        .ok_or_else(|| MlsError("the signature keys are not in storage".into()))?;
        Ok(MlsClient {
            provider,
            signer,
            credential: self.credential.clone(),
            group,
            ops: self.ops,
            keep_removal_copy: false,
            pending_aad: Vec::new(),
            removal_copy: None,
        })
    }

    fn create_config() -> MlsGroupCreateConfig {
        MlsGroupCreateConfig::builder()
            .ciphersuite(CIPHERSUITE)
            .use_ratchet_tree_extension(true)
            .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
            .lifetime(lifetime())
            .build()
    }

    fn join_config() -> MlsGroupJoinConfig {
        MlsGroupJoinConfig::builder()
            .use_ratchet_tree_extension(true)
            .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
            .build()
    }

    /// The provider, the signer and the group, borrowed together.
    fn parts(&mut self) -> Result<(&SimProvider, &SignatureKeyPair, &mut MlsGroup), MlsError> {
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| MlsError("not in a group".into()))?;
        Ok((&self.provider, &self.signer, group))
    }

    /// A fresh key package, serialized for publication.
    pub fn key_package(&mut self) -> Result<Vec<u8>, MlsError> {
        let bundle = KeyPackage::builder()
            .key_package_lifetime(lifetime())
            .build(
                CIPHERSUITE,
                &self.provider,
                &self.signer,
                self.credential.clone(),
            )
            .map_err(err)?;
        serialize(&MlsMessageOut::from(bundle.key_package().clone()))
    }

    pub fn create_group(&mut self, group_id: &[u8]) -> Result<(), MlsError> {
        let group = MlsGroup::new_with_group_id(
            &self.provider,
            &self.signer,
            &Self::create_config(),
            GroupId::from_slice(group_id),
            self.credential.clone(),
        )
        .map_err(err)?;
        self.group = Some(group);
        // A copy kept from an earlier group is of no use in this one.
        self.removal_copy = None;
        Ok(())
    }

    /// Prepares a commit adding the owners of these key packages.
    /// Authenticated data for the next commit this client prepares, and
    /// for its echo: MLS signs it with the commit, so every member that
    /// processes the commit reads the same bytes the committer wrote.
    pub fn stamp_next(&mut self, aad: Vec<u8>) {
        self.pending_aad = aad;
    }

    fn apply_stamp(&mut self) -> Result<(), MlsError> {
        let aad = self.pending_aad.clone();
        let (_, _, group) = self.parts()?;
        group.set_aad(aad);
        Ok(())
    }

    pub fn add(&mut self, key_packages: &[Vec<u8>]) -> Result<Prepared, MlsError> {
        let mut kps = Vec::new();
        for bytes in key_packages {
            let MlsMessageBodyIn::KeyPackage(kp) = deserialize(bytes)? else {
                return Err(MlsError("not a key package".into()));
            };
            kps.push(
                kp.validate(self.provider.crypto(), ProtocolVersion::Mls10)
                    .map_err(err)?,
            );
        }
        self.apply_stamp()?;
        let (provider, signer, group) = self.parts()?;
        let epoch = group.epoch().as_u64();
        let (commit, welcome, _) = group.add_members(provider, signer, &kps).map_err(err)?;
        self.ops.commits += 1;
        Ok(Prepared {
            epoch,
            commit: serialize(&commit)?,
            welcome: Some(serialize(&welcome)?),
        })
    }

    /// Prepares a commit removing the members with these identities.
    pub fn remove(&mut self, identities: &[Vec<u8>]) -> Result<Prepared, MlsError> {
        self.apply_stamp()?;
        let (provider, signer, group) = self.parts()?;
        let leaves: Vec<LeafNodeIndex> = group
            .members()
            .filter(|m| {
                identities
                    .iter()
                    .any(|id| id.as_slice() == m.credential.serialized_content())
            })
            .map(|m| m.index)
            .collect();
        let epoch = group.epoch().as_u64();
        let (commit, welcome, _) = group
            .remove_members(provider, signer, &leaves)
            .map_err(err)?;
        self.ops.commits += 1;
        Ok(Prepared {
            epoch,
            commit: serialize(&commit)?,
            welcome: welcome.map(|w| serialize(&w)).transpose()?,
        })
    }

    /// Prepares a commit that refreshes this member's own keys.
    pub fn self_update(&mut self) -> Result<Prepared, MlsError> {
        self.apply_stamp()?;
        let (provider, signer, group) = self.parts()?;
        let epoch = group.epoch().as_u64();
        let bundle = group
            .self_update(provider, signer, LeafNodeParameters::default())
            .map_err(err)?;
        self.ops.commits += 1;
        Ok(Prepared {
            epoch,
            commit: serialize(bundle.commit())?,
            welcome: None,
        })
    }

    /// The server agent ordered our pending commit: apply it.
    pub fn confirm_pending(&mut self) -> Result<u64, MlsError> {
        let (provider, _, group) = self.parts()?;
        group.merge_pending_commit(provider).map_err(err)?;
        Ok(group.epoch().as_u64())
    }

    /// Another commit won the epoch: drop ours so that it can be rebased.
    pub fn discard_pending(&mut self) -> Result<(), MlsError> {
        let (provider, _, group) = self.parts()?;
        group.clear_pending_commit(provider.storage()).map_err(err)
    }

    pub fn join(&mut self, welcome: &[u8]) -> Result<u64, MlsError> {
        let MlsMessageBodyIn::Welcome(welcome) = deserialize(welcome)? else {
            return Err(MlsError("not a welcome".into()));
        };
        // A group this client was removed from is dead; its stored state
        // would make a Welcome back into the same group id fail.
        if let Some(mut old) = self.group.take_if(|g| !g.is_active()) {
            old.delete(self.provider.storage()).map_err(err)?;
        }
        let group =
            StagedWelcome::new_from_welcome(&self.provider, &Self::join_config(), welcome, None)
                .map_err(err)?
                .into_group(&self.provider)
                .map_err(err)?;
        let epoch = group.epoch().as_u64();
        self.group = Some(group);
        self.removal_copy = None;
        self.ops.welcomes_joined += 1;
        Ok(epoch)
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, MlsError> {
        let (provider, signer, group) = self.parts()?;
        let m = group
            .create_message(provider, signer, plaintext)
            .map_err(err)?;
        self.ops.encryptions += 1;
        serialize(&m)
    }

    /// Processes a message ordered by the server agent.
    pub fn process(&mut self, bytes: &[u8]) -> Result<Processed, MlsError> {
        let result = self.process_inner(bytes);
        if result.is_err() {
            self.ops.failures += 1;
        }
        result
    }

    fn process_inner(&mut self, bytes: &[u8]) -> Result<Processed, MlsError> {
        let message: ProtocolMessage = match deserialize(bytes)? {
            MlsMessageBodyIn::PublicMessage(m) => m.into(),
            MlsMessageBodyIn::PrivateMessage(m) => m.into(),
            _ => return Err(MlsError("not a group message".into())),
        };
        let (provider, _, group) = self.parts()?;
        let processed = group.process_message(provider, message).map_err(err)?;
        let aad = processed.aad().to_vec();
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(m) => {
                self.ops.decryptions += 1;
                Ok(Processed::Application(m.into_bytes()))
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                self.ops.commits_processed += 1;
                if self.keep_removal_copy && staged.self_removed() {
                    // Nothing of the commit is applied yet: this is the
                    // state a removed member could keep. A copy that fails
                    // must not stop the member applying its removal.
                    self.removal_copy = self.copy().ok().map(Box::new);
                }
                let (provider, _, group) = self.parts()?;
                group.merge_staged_commit(provider, *staged).map_err(err)?;
                Ok(Processed::Commit {
                    epoch: group.epoch().as_u64(),
                    aad,
                })
            }
            ProcessedMessageContent::ProposalMessage(p) => {
                group
                    .store_pending_proposal(provider.storage(), *p)
                    .map_err(err)?;
                Ok(Processed::Proposal)
            }
            ProcessedMessageContent::ExternalJoinProposalMessage(_) => Ok(Processed::Proposal),
            // The server agent echoes our own commit: it won its epoch.
            ProcessedMessageContent::OwnPendingCommit => {
                group.merge_pending_commit(provider).map_err(err)?;
                Ok(Processed::Commit {
                    epoch: group.epoch().as_u64(),
                    aad: self.pending_aad.clone(),
                })
            }
            ProcessedMessageContent::OwnPrivateMessage => Ok(Processed::Own),
        }
    }

    pub fn group_id(&self) -> Option<&[u8]> {
        self.group.as_ref().map(|g| g.group_id().as_slice())
    }

    pub fn epoch(&self) -> Option<u64> {
        self.group.as_ref().map(|g| g.epoch().as_u64())
    }

    /// The value members compare out of band to detect a partitioned group.
    pub fn epoch_authenticator(&self) -> Option<Vec<u8>> {
        self.group
            .as_ref()
            .map(|g| g.epoch_authenticator().as_slice().to_vec())
    }

    /// Credential identities of the current members, in leaf order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        self.group
            .as_ref()
            .map(|g| {
                g.members()
                    .map(|m| m.credential.serialized_content().to_vec())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A commit of ours is prepared and not yet ordered (or discarded):
    /// openmls allows one at a time.
    pub fn has_pending_commit(&self) -> bool {
        self.group
            .as_ref()
            .is_some_and(|g| g.pending_commit().is_some())
    }

    pub fn is_active(&self) -> bool {
        self.group.as_ref().is_some_and(|g| g.is_active())
    }
}
