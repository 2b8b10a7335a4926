//! The `[topology]`, `[network]` and `[protocol]` tables: sizes, delays and
//! timers, each checked against its bound in `limits.rs`.

use super::cx::{Cx, Res};
use super::duration::Dur;
use super::limits::{MAX_AGENTS, MAX_ATTEMPTS, MAX_DELAY_MS, MAX_MEMBERS, MAX_SERVERS, show};
use super::locate::Field;
use super::model::*;
use crate::core::ids::Millis;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [topology] table")]
pub(super) struct RawTopology {
    members: i64,
    agents: i64,
    agents_per_member: Option<i64>,
    founders: Option<i64>,
    servers: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a [network] table")]
pub(super) struct RawNetwork {
    latency: Option<Dur>,
    jitter: Option<Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a [protocol] table")]
pub(super) struct RawProtocol {
    fetch_interval: Option<Dur>,
    retry: Option<Dur>,
    max_attempts: Option<i64>,
    ephemeral_ttl: Option<Dur>,
    rotate_every: Option<Dur>,
    long_term_ttl: Option<Dur>,
    parent_timeout: Option<Dur>,
    ack_timeout: Option<Dur>,
    takeover_after: Option<Dur>,
    audit_every: Option<Dur>,
    deliver_to: Option<DeliverTo>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum DeliverTo {
    All,
    First,
}

impl Cx<'_> {
    pub(super) fn topology(&self, raw: &RawTopology) -> Res<Topology> {
        let t = Field::root().key("topology");
        let most = "the simulator's limit";
        let members = self.count(raw.members, &t.key("members"), 2, MAX_MEMBERS, most)?;
        let agents = self.count(raw.agents, &t.key("agents"), 2, MAX_AGENTS, most)?;
        let servers = raw.servers.unwrap_or(0);
        let servers = self.count(servers, &t.key("servers"), 0, MAX_SERVERS, most)?;
        let per = raw.agents_per_member.unwrap_or(2);
        let per_field = t.key("agents_per_member");
        let per = self.count(per, &per_field, 2, agents, "the number of agents")?;
        let founders = raw.founders.unwrap_or(i64::from(members));
        let founders = self.count(
            founders,
            &t.key("founders"),
            2,
            members,
            "the number of members",
        )?;
        Ok(Topology {
            members,
            agents,
            agents_per_member: per,
            founders,
            servers,
        })
    }

    pub(super) fn network(&self, raw: &RawNetwork) -> Res<NetworkParams> {
        let n = Field::root().key("network");
        Ok(NetworkParams {
            latency_ms: self.delay(raw.latency, 20, &n.key("latency"))?,
            jitter_ms: self.delay(raw.jitter, 10, &n.key("jitter"))?,
        })
    }

    /// A network delay, at most [`MAX_DELAY_MS`].
    pub(super) fn delay(&self, value: Option<Dur>, default: Millis, field: &Field) -> Res<Millis> {
        match value.map_or(default, |d| d.0) {
            ms if ms > MAX_DELAY_MS => {
                let msg = format!(
                    "must be at most {} (the limit of a network delay), got {ms} ms",
                    show(MAX_DELAY_MS)
                );
                Err(self.err(field, msg))
            }
            ms => Ok(ms),
        }
    }

    pub(super) fn protocol(&self, raw: &RawProtocol) -> Res<ProtocolParams> {
        let p = Field::root().key("protocol");
        let ephemeral_ttl_ms = self.positive(raw.ephemeral_ttl, 30_000, &p.key("ephemeral_ttl"))?;
        let rotate_every_ms = self.positive(raw.rotate_every, 20_000, &p.key("rotate_every"))?;
        if rotate_every_ms >= ephemeral_ttl_ms {
            let key = if raw.rotate_every.is_some() {
                "rotate_every"
            } else {
                "ephemeral_ttl"
            };
            let msg = format!(
                "rotate_every ({rotate_every_ms}ms) must be shorter than ephemeral_ttl \
                 ({ephemeral_ttl_ms}ms), or addresses expire before they are replaced"
            );
            return Err(self.err(&p.key(key), msg));
        }
        let attempts = raw.max_attempts.unwrap_or(30);
        Ok(ProtocolParams {
            fetch_interval_ms: self.positive(raw.fetch_interval, 500, &p.key("fetch_interval"))?,
            retry_ms: self.positive(raw.retry, 1_000, &p.key("retry"))?,
            max_attempts: self.count(
                attempts,
                &p.key("max_attempts"),
                1,
                MAX_ATTEMPTS,
                "the simulator's limit",
            )?,
            ephemeral_ttl_ms,
            rotate_every_ms,
            long_term_ttl_ms: self.positive(
                raw.long_term_ttl,
                3_600_000,
                &p.key("long_term_ttl"),
            )?,
            parent_timeout_ms: self.positive(
                raw.parent_timeout,
                10_000,
                &p.key("parent_timeout"),
            )?,
            ack_timeout_ms: self.positive(raw.ack_timeout, 5_000, &p.key("ack_timeout"))?,
            takeover_after_ms: raw.takeover_after.map_or(2_000, |d| d.0),
            audit_every_ms: raw.audit_every.map_or(5_000, |d| d.0),
            deliver_to_all: raw.deliver_to != Some(DeliverTo::First),
        })
    }
}
