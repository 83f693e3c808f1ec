//! What an engine's refusal means. Docker answers most failures with a
//! status code and a sentence; this is the one place that reads those
//! sentences, so a Docker that words one differently is one edit here (and
//! one line in the tests below), and a kind the user can fix carries its
//! hint. Callers decide on the kind (or on `is_not_found`, the status
//! alone), never on the text.

/// What went wrong, as far as netlab acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The engine's default address pools have no subnet left.
    PoolsExhausted,
    /// A subnet asked for overlaps one the engine already uses.
    SubnetOverlaps,
    /// A swarm call on an engine that is no swarm manager (any more).
    NotSwarmManager,
    /// `swarm init` on an engine that already is in a swarm.
    AlreadyInSwarm,
    /// A container of an image the engine does not have.
    NoSuchImage,
    /// A published host port that something else holds.
    PortTaken,
    /// A network the call names is not known to this engine (yet): a
    /// swarm spreads a new overlay a little after creating it, and Docker
    /// 20.10 goes on asking the swarm for an overlay a converge just
    /// replaced by a bridge of its name.
    NetworkUnknown,
    /// Another remover of the same container got there first.
    RemovalInProgress,
    /// A network that still has endpoints (containers, or a stale count).
    NetworkHasEndpoints,
    /// An overlay network a swarm task still uses.
    NetworkInUseByTask,
    /// The kernel under the engine lacks what the call needs (a macvlan or
    /// ipvlan driver: Docker passes on netlink's EOPNOTSUPP).
    KernelLacksFeature,
    /// Anything else: shown as the engine said it.
    Other,
}

impl Refusal {
    /// The kind of a bollard error.
    pub fn of(e: &bollard::errors::Error) -> Refusal {
        Refusal::of_message(status(e), &e.to_string())
    }

    /// The kind of an engine's answer: its HTTP status where known, and
    /// its message (or an error's whole text, which contains it).
    pub fn of_message(status: Option<u16>, message: &str) -> Refusal {
        let has = |words: &str| message.contains(words);
        if has("could not find an available, non-overlapping IPv4 address pool") {
            Refusal::PoolsExhausted
        } else if has("overlaps with other one") || has("Pool overlaps") {
            Refusal::SubnetOverlaps
        } else if has("not a swarm manager") {
            Refusal::NotSwarmManager
        } else if has("already part of a swarm") {
            Refusal::AlreadyInSwarm
        } else if has("No such image") {
            Refusal::NoSuchImage
        } else if has("port is already allocated") || has("address already in use") {
            Refusal::PortTaken
        } else if has("could not find a network matching")
            || (has("Could not attach to network") && has("NotFound"))
            || (status == Some(404) && has("network"))
        {
            Refusal::NetworkUnknown
        } else if has("is already in progress") {
            Refusal::RemovalInProgress
        } else if has("has active endpoints") {
            Refusal::NetworkHasEndpoints
        } else if has("in use by task") {
            Refusal::NetworkInUseByTask
        } else if has("operation not supported") || has("not supported by the kernel") {
            Refusal::KernelLacksFeature
        } else {
            Refusal::Other
        }
    }

    /// A network that cannot be removed yet because something still uses it.
    pub fn is_network_in_use(self) -> bool {
        matches!(
            self,
            Refusal::NetworkHasEndpoints | Refusal::NetworkInUseByTask
        )
    }

    /// What the user can do about it, where that is theirs to do.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Refusal::PoolsExhausted => Some(
                "Docker's address pools are exhausted: remove unused networks with `docker network prune`, or give the lab's networks explicit `subnet:`s",
            ),
            Refusal::SubnetOverlaps => Some(
                "a network in the engine already uses an overlapping subnet; choose another `subnet:`",
            ),
            Refusal::NoSuchImage => Some(
                "nothing can be pulled here; build the image locally first (`docker build`, or `docker load` of a saved one)",
            ),
            Refusal::PortTaken => Some(
                "a published host port is already taken on this machine; choose another in `ports:`",
            ),
            _ => None,
        }
    }

    /// The hint as the line that follows an error: `\n  (hint: …)`, or
    /// nothing.
    pub fn hint_line(self) -> String {
        self.hint()
            .map(|h| format!("\n  (hint: {h})"))
            .unwrap_or_default()
    }
}

/// True when the engine said 404: the object is already gone (or was
/// never there), whatever the words.
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    status(e) == Some(404)
}

/// The HTTP status of the engine's answer, where it gave one.
fn status(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

impl super::EngineError {
    /// The kind of the engine's answer behind this error: read from the
    /// bollard error where it is kept whole, else from the error's text.
    pub fn refusal(&self) -> Refusal {
        match self.source.downcast_ref::<bollard::errors::Error>() {
            Some(e) => Refusal::of(e),
            None => Refusal::of_message(None, &format!("{:#}", self.source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker's words as seen on 20.10, 26.1 and 28.5, and the kind each is.
    #[test]
    fn each_sentence_docker_says_is_its_kind() {
        let cases: &[(Option<u16>, &str, Refusal)] = &[
            (
                Some(500),
                "Docker responded with status code 500: failed to create the macvlan port: operation not supported",
                Refusal::KernelLacksFeature,
            ),
            (
                Some(409),
                "Docker responded with status code 409: network with name x already exists",
                Refusal::Other,
            ),
            (
                Some(404),
                "Docker responded with status code 404: could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                Refusal::PoolsExhausted,
            ),
            (
                Some(403),
                "Docker responded with status code 403: Pool overlaps with other one on this address space",
                Refusal::SubnetOverlaps,
            ),
            (
                Some(503),
                "Docker responded with status code 503: This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.",
                Refusal::NotSwarmManager,
            ),
            (
                Some(503),
                "Docker responded with status code 503: This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.",
                Refusal::AlreadyInSwarm,
            ),
            (
                Some(404),
                "Docker responded with status code 404: No such image: busybox:latest",
                Refusal::NoSuchImage,
            ),
            (
                Some(500),
                "Docker responded with status code 500: driver failed programming external connectivity on endpoint x: Bind for 0.0.0.0:27502 failed: port is already allocated",
                Refusal::PortTaken,
            ),
            (
                Some(500),
                "Docker responded with status code 500: Error starting userland proxy: listen tcp4 0.0.0.0:27502: bind: address already in use",
                Refusal::PortTaken,
            ),
            (
                Some(500),
                "Docker responded with status code 500: Could not attach to network netlab_t-ov-conv_mesh: rpc error: code = NotFound desc = network netlab_t-ov-conv_mesh not found",
                Refusal::NetworkUnknown,
            ),
            (
                Some(400),
                "Docker responded with status code 400: could not find a network matching network mode netlab_x_ov: network netlab_x_ov not found",
                Refusal::NetworkUnknown,
            ),
            (
                Some(404),
                "Docker responded with status code 404: network netlab_x_ov not found",
                Refusal::NetworkUnknown,
            ),
            (
                Some(409),
                "Docker responded with status code 409: removal of container 3f2a is already in progress",
                Refusal::RemovalInProgress,
            ),
            (
                Some(403),
                "Docker responded with status code 403: error while removing network: network netlab_t_front id 9c1e has active endpoints",
                Refusal::NetworkHasEndpoints,
            ),
            (
                Some(500),
                "Docker responded with status code 500: rpc error: code = FailedPrecondition desc = network 8xk2 is in use by task q1w2",
                Refusal::NetworkInUseByTask,
            ),
            (
                Some(404),
                "Docker responded with status code 404: No such container: netlab_t_web",
                Refusal::Other,
            ),
            (
                None,
                "error trying to connect: connection refused",
                Refusal::Other,
            ),
        ];
        for (status, message, kind) in cases {
            assert_eq!(Refusal::of_message(*status, message), *kind, "{message}");
        }
    }

    #[test]
    fn a_network_mentioned_without_a_404_is_not_unknown() {
        assert_eq!(
            Refusal::of_message(Some(500), "network netlab_x_ov is broken"),
            Refusal::Other
        );
    }

    #[test]
    fn kinds_the_user_can_fix_carry_a_hint_the_others_none() {
        for kind in [
            Refusal::PoolsExhausted,
            Refusal::SubnetOverlaps,
            Refusal::NoSuchImage,
            Refusal::PortTaken,
        ] {
            assert!(kind.hint_line().starts_with("\n  (hint: "), "{kind:?}");
        }
        for kind in [
            Refusal::NotSwarmManager,
            Refusal::NetworkUnknown,
            Refusal::RemovalInProgress,
            Refusal::Other,
        ] {
            assert_eq!(kind.hint_line(), "", "{kind:?}");
        }
        assert!(Refusal::NetworkHasEndpoints.is_network_in_use());
        assert!(Refusal::NetworkInUseByTask.is_network_in_use());
        assert!(!Refusal::RemovalInProgress.is_network_in_use());
    }

    #[test]
    fn an_engine_error_is_read_through_its_wrapping() {
        let kept_whole = super::super::EngineError::new(
            "cannot remove network x",
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message: "network x not found".into(),
            },
        );
        assert_eq!(kept_whole.refusal(), Refusal::NetworkUnknown);
        let as_text = super::super::EngineError::new(
            "cannot create network x",
            anyhow::anyhow!(
                "Docker responded with status code 503: This node is not a swarm manager."
            ),
        );
        assert_eq!(as_text.refusal(), Refusal::NotSwarmManager);
    }
}
