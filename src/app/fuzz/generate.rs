//! Random labs from a seed, and their checks written from the model's
//! predictions. Pure: the same seed gives the same lab, byte for byte.
//!
//! A lab is first a `Spec` (what the shrinker edits: drop a node, a
//! network, an option), rendered to YAML and loaded through the normal
//! loader, so a generated lab is one `netlab validate` accepts. The checks
//! are then predicted by `model` from that loaded lab and appended.
//!
//! Overlays only with `--overlays` (`generate_with`): a single-node swarm
//! takes longer to make and leave than the rest of a generated lab takes
//! to run, unless the engine is in a swarm already (netlab then uses it
//! and leaves it as it was). Their choices come from a second random
//! stream, so a seed's lab without overlays is the same either way.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::probes::render_check;
pub use super::probes::{probes_of, title};
use crate::lab::{self, IpFamily, Lab, Source};

/// splitmix64: a few lines, enough for test generation, and stable.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// The application port every agent node serves (or, for refused cells,
/// does not).
pub const PORT: u16 = 7000;
/// Host ports of generated labs: 27900-27999, the part of netlab's test
/// range (27600-27999) no other engine test uses, as tests run side by
/// side (tests/ipv6.rs takes 276xx, the host-network lab 27801-27802).
const HOST_PORT_BASE: u16 = 27900;
const HOST_PORTS: u16 = 100;
pub(super) const ALIASES: [&str; 3] = ["a1", "a2", "a3"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSpec {
    pub name: String,
    pub icc: bool,
    pub internal: bool,
    /// The third octet of 10.214.X.0/24; `None`: Docker allocates.
    pub subnet: Option<u8>,
    pub ipv6: bool,
    /// An attachable overlay (single engine: needs a swarm).
    pub overlay: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachSpec {
    pub network: String,
    pub aliases: Vec<String>,
    /// The last octet of a fixed address in the network's subnet.
    pub ipv4: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    Networks(Vec<AttachSpec>),
    Host,
    None,
    Bridge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    pub name: String,
    pub attach: Attach,
    /// Serves tcp:7000 (else a probe there is refused).
    pub serves: bool,
    pub http: bool,
    /// Publishes 7000 at this host port, on `host_ip` (`None`: every
    /// address of the host).
    pub publish: Option<u16>,
    pub host_ip: Option<IpAddr>,
    /// A host-mode node's own port (7000 on the host is not netlab's).
    pub host_listen: Option<u16>,
}

/// One generated check, by what it probes: what a disagreement is about,
/// and what the shrinker keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A matrix cell on 7000, over `family`.
    Cell {
        from: Source,
        to: String,
        family: IpFamily,
    },
    Dns {
        from: String,
        name: String,
        family: IpFamily,
    },
    /// A published port, looked for at `host_ip` (`None`: wherever it is
    /// mapped).
    Port {
        node: String,
        host_ip: Option<IpAddr>,
    },
    Tcp {
        from: Source,
        to: String,
        port: u16,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub seed: u64,
    pub networks: Vec<NetSpec>,
    pub nodes: Vec<NodeSpec>,
    /// `Some`: only this check (a shrunk lab); `None`: every check the
    /// generator writes.
    pub only: Option<Probe>,
    /// A mutant model: the matrix's first cell says the opposite of the
    /// prediction, so the run must disagree (proves the harness can fail).
    pub mutant: bool,
}

impl Spec {
    pub fn lab_name(&self) -> String {
        if self.networks.iter().any(|n| n.overlay) {
            format!("t-fzo-{}", self.seed)
        } else {
            format!("t-fz-{}", self.seed)
        }
    }
}

/// A random lab within netlab's model; with `overlays`, an attachable
/// overlay `ov` (internal one time in four) joined by about half of the
/// nodes on networks, some of them by an alias, and no other network.
pub fn generate_with(seed: u64, overlays: bool) -> Spec {
    let mut spec = generate(seed);
    if !overlays {
        return spec;
    }
    let mut rng = Rng::new(seed ^ 0x0ae7_1a75_0000_0000);
    let taken: Vec<u8> = spec.networks.iter().filter_map(|n| n.subnet).collect();
    let subnet = (!rng.one_in(3)).then(|| {
        loop {
            let o = u8::try_from(rng.below(256)).unwrap_or(0);
            if !taken.contains(&o) {
                break o;
            }
        }
    });
    spec.networks.push(NetSpec {
        name: "ov".into(),
        icc: true,
        internal: rng.one_in(4),
        subnet,
        ipv6: false,
        overlay: true,
    });
    let mut joined = 0;
    for node in &mut spec.nodes {
        if let Attach::Networks(list) = &mut node.attach
            && (rng.one_in(2) || joined == 0)
        {
            joined += 1;
            let aliases = if rng.one_in(3) {
                vec![ALIASES[usize::try_from(rng.below(3)).unwrap_or(0)].to_owned()]
            } else {
                Vec::new()
            };
            if rng.one_in(3) {
                list.clear();
            }
            list.push(AttachSpec {
                network: "ov".into(),
                aliases,
                ipv4: None,
            });
        }
    }
    spec
}

/// A random lab within netlab's model.
pub fn generate(seed: u64) -> Spec {
    let mut rng = Rng::new(seed);
    let dual_stack = rng.one_in(4);
    let mut octets: Vec<u8> = Vec::new();
    let networks: Vec<NetSpec> = (0..1 + rng.below(3))
        .map(|i| {
            let subnet = (!rng.one_in(3)).then(|| {
                loop {
                    let o = u8::try_from(rng.below(256)).unwrap_or(0);
                    if !octets.contains(&o) {
                        octets.push(o);
                        break o;
                    }
                }
            });
            NetSpec {
                name: format!("net{}", i + 1),
                icc: !rng.one_in(4),
                internal: rng.one_in(4),
                subnet,
                ipv6: dual_stack && !rng.one_in(3),
                overlay: false,
            }
        })
        .collect();
    let mut host_ports: Vec<u16> = Vec::new();
    let mut host_port = |rng: &mut Rng| loop {
        let p = HOST_PORT_BASE + u16::try_from(rng.below(u64::from(HOST_PORTS))).unwrap_or(0);
        if !host_ports.contains(&p) {
            host_ports.push(p);
            break p;
        }
    };
    let mut host_mode_taken = false;
    let mut fixed: Vec<(String, u8)> = Vec::new();
    let nodes = (0..2 + rng.below(4))
        .map(|i| {
            let name = format!("n{}", i + 1);
            let attach = match rng.below(12) {
                0 if !host_mode_taken => {
                    host_mode_taken = true;
                    Attach::Host
                }
                1 => Attach::None,
                2 => Attach::Bridge,
                _ => {
                    let mut list = Vec::new();
                    for net in &networks {
                        if !rng.one_in(2) {
                            continue;
                        }
                        let aliases = if rng.one_in(3) {
                            vec![ALIASES[usize::try_from(rng.below(3)).unwrap_or(0)].to_owned()]
                        } else {
                            Vec::new()
                        };
                        let ipv4 = match net.subnet {
                            Some(_) if rng.one_in(3) => loop {
                                let o = 10 + u8::try_from(rng.below(200)).unwrap_or(0);
                                if !fixed.contains(&(net.name.clone(), o)) {
                                    fixed.push((net.name.clone(), o));
                                    break Some(o);
                                }
                            },
                            _ => None,
                        };
                        list.push(AttachSpec {
                            network: net.name.clone(),
                            aliases,
                            ipv4,
                        });
                    }
                    if list.is_empty() {
                        // Docker's default bridge when a node joins none
                        // of the lab's: a node must be somewhere.
                        list.push(AttachSpec {
                            network: networks
                                [usize::try_from(rng.below(networks.len() as u64)).unwrap_or(0)]
                            .name
                            .clone(),
                            aliases: Vec::new(),
                            ipv4: None,
                        });
                    }
                    Attach::Networks(list)
                }
            };
            let serves = !rng.one_in(5);
            let http = rng.one_in(4);
            let publish =
                (matches!(attach, Attach::Networks(_) | Attach::Bridge) && serves && rng.one_in(3))
                    .then(|| host_port(&mut rng));
            let host_ip = match rng.below(4) {
                0 => None,
                1 => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                _ => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            };
            let host_listen = (attach == Attach::Host).then(|| host_port(&mut rng));
            NodeSpec {
                host_ip,
                name,
                attach,
                serves,
                http,
                publish,
                host_listen,
            }
        })
        .collect();
    Spec {
        seed,
        networks,
        nodes,
        only: None,
        mutant: false,
    }
}

/// A YAML flow map: `{}`, or `{ a: 1, b: 2 }`.
fn braces(fields: &[String]) -> String {
    if fields.is_empty() {
        "{}".to_owned()
    } else {
        format!("{{ {} }}", fields.join(", "))
    }
}

/// The lab's networks and nodes as YAML, without checks.
fn render_topology(spec: &Spec) -> String {
    let mut y = String::new();
    let _ = writeln!(y, "name: {}", spec.lab_name());
    let _ = writeln!(
        y,
        "description: generated by `netlab fuzz --seed {}`; checks written from netlab's model",
        spec.seed
    );
    y.push_str("networks:\n");
    if spec.networks.is_empty() {
        y.push_str("  {}\n");
    }
    for n in &spec.networks {
        let mut fields = Vec::new();
        if n.overlay {
            fields.push("driver: overlay".to_owned());
        }
        if !n.icc {
            fields.push("icc: false".to_owned());
        }
        if n.internal {
            fields.push("internal: true".to_owned());
        }
        if let Some(o) = n.subnet {
            fields.push(format!("subnet: 10.214.{o}.0/24"));
        }
        if n.ipv6 {
            fields.push("ipv6: true".to_owned());
        }
        let _ = writeln!(y, "  {}: {}", n.name, braces(&fields));
    }
    y.push_str("nodes:\n");
    for node in &spec.nodes {
        let _ = writeln!(y, "  {}:", node.name);
        match &node.attach {
            Attach::Host => y.push_str("    network_mode: host\n"),
            Attach::None => y.push_str("    network_mode: none\n"),
            Attach::Bridge => y.push_str("    network_mode: bridge\n"),
            Attach::Networks(list) => {
                y.push_str("    networks:\n");
                for a in list {
                    let mut fields = Vec::new();
                    if !a.aliases.is_empty() {
                        fields.push(format!("aliases: [{}]", a.aliases.join(", ")));
                    }
                    if let (Some(o), Some(net)) = (
                        a.ipv4,
                        spec.networks
                            .iter()
                            .find(|n| n.name == a.network)
                            .and_then(|n| n.subnet),
                    ) {
                        fields.push(format!("ipv4: 10.214.{net}.{o}"));
                    }
                    let _ = writeln!(y, "      {}: {}", a.network, braces(&fields));
                }
            }
        }
        let mut serve = Vec::new();
        if node.serves {
            serve.push(format!("tcp:{PORT}"));
        }
        if node.http {
            serve.push("http:80".to_owned());
        }
        if let Some(p) = node.host_listen {
            serve = vec![format!("tcp:{p}")];
        }
        let _ = writeln!(y, "    serve: [{}]", serve.join(", "));
        match (node.publish, node.host_ip) {
            (Some(p), Some(IpAddr::V6(ip))) => {
                let _ = writeln!(y, "    ports: [\"[{ip}]:{p}:{PORT}\"]");
            }
            (Some(p), Some(ip)) => {
                let _ = writeln!(y, "    ports: [\"{ip}:{p}:{PORT}\"]");
            }
            (Some(p), None) => {
                let _ = writeln!(y, "    ports: [\"{p}:{PORT}\"]");
            }
            (None, _) => {}
        }
    }
    y
}

/// Why a spec cannot be rendered into a lab: what the loader said.
pub type RenderError = String;

/// The lab file of a spec: topology, then the checks the model predicts.
pub fn render(spec: &Spec) -> Result<String, RenderError> {
    let topology = render_topology(spec);
    let lab = load(&topology)?;
    let chosen = probes_of(spec, &lab);
    let mut y = topology;
    y.push_str("checks:\n");
    for family in [IpFamily::V4, IpFamily::V6] {
        let cells: Vec<(Source, String)> = chosen
            .iter()
            .filter_map(|p| match p {
                Probe::Cell {
                    from,
                    to,
                    family: f,
                } if *f == family => Some((from.clone(), to.clone())),
                _ => None,
            })
            .collect();
        super::matrix::render(&lab, &cells, family, spec.mutant, &mut y);
    }
    for p in &chosen {
        render_check(&lab, p, &mut y);
    }
    Ok(y)
}

/// Loads a generated lab through the normal loader.
pub fn load(text: &str) -> Result<Lab, RenderError> {
    lab::load_source("generated.yaml", text.as_bytes(), None)
        .map(|l| l.lab)
        .map_err(|e| e.to_string())
}
