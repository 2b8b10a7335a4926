//! The sans-IO boundary: what goes into a state machine and what comes out.

use super::ids::{MemberId, Millis, Peer, ServerId};
use crate::core::event::Event;

/// Everything a host can be told.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The host's software starts, for the first time or again.
    Start(Start),
    /// A datagram arrived. `from` is what the network says; the bytes are
    /// untrusted.
    Datagram { from: Peer, bytes: Vec<u8> },
    /// The deadline from the last `WakeAt` has passed.
    Wake,
    /// The application (the workload) asks for something.
    Command(Command),
    /// The fault plan changes how the host's software behaves.
    Fault(FaultCommand),
}

/// How a host's software starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Start {
    /// For the first time, or as a new device after a wipe.
    #[default]
    Fresh,
    /// Again, with everything it held (a crash that kept its state, or the
    /// end of an offline period).
    Resumed,
    /// Again, with what it held in memory (unacknowledged requests) lost.
    VolatileLost,
}

impl Start {
    /// Whether the host ran before, which its user would have seen.
    pub fn restart(self) -> bool {
        self != Start::Fresh
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Send a group message; a reply if `reply`, to the recent message
    /// chosen by `pick` (so the choice is seeded but made by the member,
    /// from what it has actually seen).
    Send {
        reply: bool,
        pick: u64,
    },
    Add(MemberId),
    Remove(MemberId),
    /// Coordinated groups: refresh this member's own MLS keys (a commit).
    Update,
    /// Nominate this server agent for the group's next generation: a
    /// takeover, or, in a lightweight group, the upgrade to a coordinated
    /// one.
    Nominate(ServerId),
    /// Rename the group: a new name, and a picture reference (none keeps
    /// no picture).
    Rename {
        name: String,
        picture: Option<String>,
    },
}

impl Input {
    /// The record of a command or fault command this host does not take.
    pub fn skipped(&self, reason: &str) -> Event {
        let command = match self {
            Input::Command(c) => c.describe(),
            Input::Fault(f) => f.describe(),
            Input::Start(_) => "start".into(),
            Input::Wake => "wake".into(),
            Input::Datagram { .. } => "datagram".into(),
        };
        Event::CommandSkipped {
            command,
            reason: reason.into(),
        }
    }
}

/// What the fault plan tells a host's software, apart from crashing it.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultCommand {
    /// Mailbox agents: expire this member's ephemeral addresses now.
    ExpireAddresses(MemberId),
    /// Server agents: refuse (or resume) service while staying up.
    RefuseService(bool),
    /// Server agents: lie (the dishonest-server fault), or stop lying.
    Dishonest(Option<crate::core::server::dishonest::Dishonesty>),
}

impl FaultCommand {
    pub fn describe(&self) -> String {
        match self {
            FaultCommand::ExpireAddresses(m) => format!("expire addresses of {m}"),
            FaultCommand::RefuseService(on) => format!("refuse service: {on}"),
            FaultCommand::Dishonest(Some(d)) => format!("lie: {}", d.mode),
            FaultCommand::Dishonest(None) => "stop lying".to_owned(),
        }
    }
}

impl Command {
    pub fn describe(&self) -> String {
        match self {
            Command::Send { reply, .. } => if *reply { "reply" } else { "send" }.to_owned(),
            Command::Add(m) => format!("add {m}"),
            Command::Remove(m) => format!("remove {m}"),
            Command::Update => "update".to_owned(),
            Command::Nominate(c) => format!("nominate {c}"),
            Command::Rename { name, .. } => format!("rename to {name:?}"),
        }
    }
}

/// Everything a host can ask its driver to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Send {
        to: Peer,
        bytes: Vec<u8>,
    },
    /// Call `handle(Wake)` once the host's own clock reaches this time.
    /// Replaces any earlier request; hosts keep their deadlines themselves.
    WakeAt(Millis),
    Record(Event),
}

/// What every host is to a driver: a state machine fed inputs at times read
/// on its own clock, answering with effects. Members, mailbox agents and
/// server agents are all driven through it; none does I/O or reads a clock.
pub trait Host {
    fn handle(&mut self, now: Millis, input: Input) -> Effects;
}

/// Effects in the order the machine produced them.
#[derive(Debug, Default)]
pub struct Effects(pub Vec<Effect>);

impl Effects {
    pub fn send(&mut self, to: Peer, bytes: Vec<u8>) {
        self.0.push(Effect::Send { to, bytes });
    }
    pub fn record(&mut self, event: Event) {
        self.0.push(Effect::Record(event));
    }
    pub fn wake_at(&mut self, at: Millis) {
        self.0.push(Effect::WakeAt(at));
    }
}
