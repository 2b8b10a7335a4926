//! A group member: the Group Particle, pairwise Olm sessions, membership,
//! causal delivery.

pub mod membership;
