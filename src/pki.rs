//! The lab's certificate authorities: `up` makes one per lab, which signs a
//! leaf certificate for every https node with the node name and its aliases
//! as subject alternative names, and, when a node asks for it (`ca: other`),
//! a second one that checks do not trust.
//!
//! A CA's key lives only in the netlab process that made it: it signs the
//! leaves of that `up` and is dropped. The lab's record keeps the CA's
//! certificate alone (so `verify` trusts it without the lab file); each
//! leaf key goes straight into its own container. A CA can sign only the
//! lab's names: its certificate carries X.509 name constraints that permit
//! exactly the DNS names of the nodes it was made for and exclude every IP
//! address, so even a stolen CA key could not vouch for another site.

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints,
};
use serde::{Deserialize, Serialize};

pub struct LabCa {
    issuer: Issuer<'static, KeyPair>,
    stored: StoredCa,
}

/// A CA as the record keeps it: its certificate, never its key. (Records
/// of older netlabs also hold a `key_pem`; it is not read.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCa {
    pub cert_pem: String,
}

/// A node's certificate and key, PEM.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A name no lab node can have (RFC 6761's `.invalid`): what a CA that
/// signs nothing permits (an empty list of permitted names is not valid
/// X.509).
const NO_NAME: &str = "netlab.invalid";

fn ca_params(common_name: &str, names: &[String]) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "netlab");
    params.distinguished_name = dn;
    // No intermediate CAs: a leaf signed by this CA is the end of the chain.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let permitted: Vec<GeneralSubtree> = if names.is_empty() {
        vec![GeneralSubtree::DnsName(NO_NAME.into())]
    } else {
        names
            .iter()
            .map(|n| GeneralSubtree::DnsName(n.clone()))
            .collect()
    };
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: permitted,
        excluded_subtrees: vec![
            GeneralSubtree::IpAddress(CidrSubnet::V4([0; 4], [0; 4])),
            GeneralSubtree::IpAddress(CidrSubnet::V6([0; 16], [0; 16])),
        ],
    });
    Ok(params)
}

impl LabCa {
    /// The CA whose certificates the lab's checks trust, for `names` (the
    /// DNS names of the nodes it signs for).
    pub fn generate(lab: &str, names: &[String]) -> Result<LabCa, rcgen::Error> {
        Self::generate_named(&format!("netlab lab CA {lab}"), names)
    }

    /// A CA the lab's checks do not trust.
    pub fn generate_other(lab: &str, names: &[String]) -> Result<LabCa, rcgen::Error> {
        Self::generate_named(&format!("netlab other CA {lab}"), names)
    }

    fn generate_named(common_name: &str, names: &[String]) -> Result<LabCa, rcgen::Error> {
        let params = ca_params(common_name, names)?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(LabCa {
            stored: StoredCa {
                cert_pem: cert.pem(),
            },
            issuer: Issuer::new(params, key),
        })
    }

    pub fn cert_pem(&self) -> String {
        self.stored.cert_pem.clone()
    }

    pub fn stored(&self) -> &StoredCa {
        &self.stored
    }

    /// `names[0]` is the subject's common name; all are DNS names in the SAN.
    pub fn leaf(&self, names: &[String]) -> Result<Leaf, rcgen::Error> {
        let mut params = CertificateParams::new(names.to_vec())?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        dn.push(DnType::OrganizationName, "netlab");
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_name_the_node_and_its_aliases() {
        let ca = LabCa::generate("t", &names(&["web", "www"])).expect("ca");
        let leaf = ca.leaf(&["web".into(), "www".into()]).expect("leaf");
        let der = rustls_pemfile_der(&leaf.cert_pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x509");
        assert_eq!(cert.subject().to_string(), "CN=web, O=netlab");
        assert_eq!(cert.issuer().to_string(), "CN=netlab lab CA t, O=netlab");
        let sans: Vec<String> = cert
            .subject_alternative_name()
            .expect("ext")
            .expect("san")
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(sans, ["DNSName(web)", "DNSName(www)"]);
    }

    /// Verifies `leaf` for `name` against `ca` alone, as a client would.
    fn verify(ca: &LabCa, leaf: &Leaf, name: &str) -> Result<(), rustls::Error> {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(rustls_pemfile_der(&ca.cert_pem())))
            .expect("root");
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .expect("verifier");
        verifier
            .verify_server_cert(
                &CertificateDer::from(rustls_pemfile_der(&leaf.cert_pem)),
                &[],
                &ServerName::try_from(name.to_owned()).expect("name"),
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_leaf_verifies_against_its_ca_only_and_only_for_its_names() {
        let ca = LabCa::generate("t", &names(&["web"])).expect("ca");
        let other = LabCa::generate("other", &names(&["web"])).expect("ca");
        let leaf = ca.leaf(&["web".into()]).expect("leaf");
        assert!(verify(&ca, &leaf, "web").is_ok());
        assert!(
            matches!(
                verify(&ca, &leaf, "db"),
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForNameContext { .. }
                        | rustls::CertificateError::NotValidForName
                ))
            ),
            "{:?}",
            verify(&ca, &leaf, "db")
        );
        assert!(matches!(
            verify(&other, &leaf, "web"),
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ));
    }

    #[test]
    fn the_ca_can_sign_only_the_labs_names() {
        let ca = LabCa::generate("t", &names(&["web", "www"])).expect("ca");
        // The key signs anything; a client refuses what lies outside the
        // CA's name constraints.
        for outside in ["bank.example", "www.bank.example", "db"] {
            let leaf = ca.leaf(&[outside.into()]).expect("leaf");
            let refused = verify(&ca, &leaf, outside);
            assert!(
                matches!(
                    &refused,
                    Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(e)))
                        if format!("{e:?}").contains("NameConstraintViolation")
                ),
                "{outside}: {refused:?}"
            );
        }
        let sneaky = ca
            .leaf(&["web".into(), "bank.example".into()])
            .expect("leaf");
        assert!(
            verify(&ca, &sneaky, "web").is_err(),
            "one name outside spoils the leaf"
        );
        let with_ip = {
            let mut params = CertificateParams::new(vec!["web".to_owned()]).expect("params");
            params
                .subject_alt_names
                .push(rcgen::SanType::IpAddress("10.0.0.1".parse().expect("ip")));
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &ca.issuer).expect("signed");
            Leaf {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            }
        };
        assert!(
            verify(&ca, &with_ip, "web").is_err(),
            "no IP address is permitted"
        );
        let nothing = LabCa::generate("t", &[]).expect("ca");
        let leaf = nothing.leaf(&["web".into()]).expect("leaf");
        assert!(verify(&nothing, &leaf, "web").is_err());
    }

    #[test]
    fn the_record_keeps_the_certificate_never_the_key() {
        let ca = LabCa::generate("t", &names(&["web"])).expect("ca");
        let json = serde_json::to_string(ca.stored()).expect("json");
        assert!(!json.contains("PRIVATE KEY"), "{json}");
        // A record of an older netlab, with a key, still reads.
        let old: StoredCa = serde_json::from_str(
            r#"{"cert_pem":"-----BEGIN CERTIFICATE-----","key_pem":"-----BEGIN PRIVATE KEY-----"}"#,
        )
        .expect("old record");
        assert_eq!(old.cert_pem, "-----BEGIN CERTIFICATE-----");
    }

    fn rustls_pemfile_der(pem: &str) -> Vec<u8> {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
            .expect("pem")
            .to_vec()
    }
}
