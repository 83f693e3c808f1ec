//! The lab's certificate authorities: `up` makes one per lab, which signs a
//! leaf certificate for every https node with the node name and its aliases
//! as subject alternative names, and, when a node asks for it (`ca: other`),
//! a second one that checks do not trust. Each leaf key goes straight into
//! its own container; the CAs are kept in the lab's record in the engine, so
//! `verify` trusts the lab CA without the lab file and a later `up` can sign
//! a certificate for a node it adds.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use serde::{Deserialize, Serialize};

pub struct LabCa {
    issuer: Issuer<'static, KeyPair>,
    stored: StoredCa,
}

/// A CA as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCa {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A node's certificate and key, PEM.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

fn ca_params(common_name: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "netlab");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

impl LabCa {
    /// The CA whose certificates the lab's checks trust.
    pub fn generate(lab: &str) -> Result<LabCa, rcgen::Error> {
        Self::generate_named(&format!("netlab lab CA {lab}"))
    }

    /// A CA the lab's checks do not trust.
    pub fn generate_other(lab: &str) -> Result<LabCa, rcgen::Error> {
        Self::generate_named(&format!("netlab other CA {lab}"))
    }

    fn generate_named(common_name: &str) -> Result<LabCa, rcgen::Error> {
        let params = ca_params(common_name)?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(LabCa {
            stored: StoredCa {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            },
            issuer: Issuer::new(params, key),
        })
    }

    /// A CA from the record. Signing needs only its name and key, which
    /// the stored certificate and key give back as they were.
    pub fn restore(stored: &StoredCa) -> Result<LabCa, rcgen::Error> {
        let key = KeyPair::from_pem(&stored.key_pem)?;
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::CertificateDer::from_pem_slice(stored.cert_pem.as_bytes())
            .map_err(|_| rcgen::Error::CouldNotParseCertificate)?;
        let common_name = x509_parser::parse_x509_certificate(&der)
            .ok()
            .and_then(|(_, c)| {
                c.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok().map(str::to_owned))
            })
            .ok_or(rcgen::Error::CouldNotParseCertificate)?;
        Ok(LabCa {
            issuer: Issuer::new(ca_params(&common_name)?, key),
            stored: stored.clone(),
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
        let ca = LabCa::generate("t").expect("ca");
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

    #[test]
    fn a_leaf_verifies_against_its_ca_only_and_only_for_its_names() {
        let ca = LabCa::generate("t").expect("ca");
        let other = LabCa::generate("other").expect("ca");
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
    fn a_restored_ca_signs_leaves_that_verify_against_the_original_certificate() {
        let ca = LabCa::generate("t").expect("ca");
        let restored = LabCa::restore(ca.stored()).expect("restored");
        let leaf = restored.leaf(&["web".into()]).expect("leaf");
        verify(&ca, &leaf, "web").expect("a leaf of the restored CA verifies against the original");
        let other = LabCa::generate_other("t").expect("other");
        assert_ne!(other.cert_pem(), ca.cert_pem());
    }

    fn rustls_pemfile_der(pem: &str) -> Vec<u8> {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
            .expect("pem")
            .to_vec()
    }
}
