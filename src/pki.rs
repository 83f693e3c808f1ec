//! The lab's certificate authority: made by `up` for each lab, it signs a
//! leaf certificate for every agent node with the node name and its aliases
//! as subject alternative names. The CA's key lives only in the netlab
//! process during `up`; each leaf key goes straight into its own container.
//! The CA certificate is public and stored in the engine (a label), so
//! `verify` trusts it without the lab file.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

pub struct LabCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A node's certificate and key, PEM.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl LabCa {
    pub fn generate(lab: &str) -> Result<LabCa, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("netlab lab CA {lab}"));
        dn.push(DnType::OrganizationName, "netlab");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Ok(LabCa {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate()?)?,
        })
    }

    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
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

    #[test]
    fn a_leaf_verifies_against_its_ca_only_and_only_for_its_names() {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let ca = LabCa::generate("t").expect("ca");
        let other = LabCa::generate("other").expect("ca");
        let leaf = ca.leaf(&["web".into()]).expect("leaf");
        let verify = |ca: &LabCa, name: &str| {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from(rustls_pemfile_der(&ca.cert_pem())))
                .expect("root");
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let verifier =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("verifier");
            verifier.verify_server_cert(
                &CertificateDer::from(rustls_pemfile_der(&leaf.cert_pem)),
                &[],
                &ServerName::try_from(name.to_owned()).expect("name"),
                &[],
                UnixTime::now(),
            )
        };
        assert!(verify(&ca, "web").is_ok());
        assert!(
            matches!(
                verify(&ca, "db"),
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForNameContext { .. }
                        | rustls::CertificateError::NotValidForName
                ))
            ),
            "{:?}",
            verify(&ca, "db")
        );
        assert!(matches!(
            verify(&other, "web"),
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ));
    }

    fn rustls_pemfile_der(pem: &str) -> Vec<u8> {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
            .expect("pem")
            .to_vec()
    }
}
