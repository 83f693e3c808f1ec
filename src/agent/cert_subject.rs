//! The subject of a certificate the server presented, as a report line
//! names it: `CN=web, O=netlab`.
//!
//! Why not x509-parser: this one string was all netlab asked of it, and it
//! brought a dozen crates (asn1-rs, der-parser, num-bigint, oid-registry,
//! ...) into the agent image, which issue 21 wants under 15 MB. rustls-webpki
//! already verifies the certificate; this only walks DER to the subject's
//! RDNs and prints them as x509-parser did (the tests compare the two),
//! but for a type it has no name for: `1.2.3.4=value` as RFC 4514 writes
//! it, not `OID(1.2.3.4)=value`.

/// `CN=web, O=netlab` of a DER certificate; `None` where the bytes are not
/// a certificate as X.509 lays it out.
pub fn subject(der: &[u8]) -> Option<String> {
    let (certificate, _) = element(der, SEQUENCE)?;
    let (mut tbs, _) = element(certificate, SEQUENCE)?;
    if tbs.first() == Some(&EXPLICIT_VERSION) {
        tbs = element(tbs, EXPLICIT_VERSION)?.1;
    }
    // serialNumber, signature, issuer, validity, then the subject.
    let (_, rest) = element(tbs, INTEGER)?;
    let (_, rest) = element(rest, SEQUENCE)?;
    let (_, rest) = element(rest, SEQUENCE)?;
    let (_, rest) = element(rest, SEQUENCE)?;
    let (name, _) = element(rest, SEQUENCE)?;
    format_name(name)
}

const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const EXPLICIT_VERSION: u8 = 0xa0;

/// The contents of the element at the start of `input` if its tag is
/// `tag`, and what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, contents, rest) = any_element(input)?;
    (found == tag).then_some((contents, rest))
}

/// (tag, contents, rest) of the element at the start of `input`: DER's
/// one-byte tags and definite lengths only, which is all a certificate's
/// name uses.
fn any_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b))
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }: the
/// relative names joined by ", ", attributes of one by " + ".
fn format_name(mut name: &[u8]) -> Option<String> {
    let mut rdns = Vec::new();
    while !name.is_empty() {
        let (mut set, rest) = element(name, SET)?;
        name = rest;
        let mut attributes = Vec::new();
        while !set.is_empty() {
            let (pair, rest) = element(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = element(pair, OID)?;
            let (value_tag, value, _) = any_element(value)?;
            attributes.push(format!(
                "{}={}",
                attribute_name(oid),
                attribute_value(value_tag, value)
            ));
        }
        rdns.push(attributes.join(" + "));
    }
    Some(rdns.join(", "))
}

/// The short names x509-parser prints; any other type as its dotted OID.
fn attribute_name(oid: &[u8]) -> String {
    const KNOWN: &[(&[u8], &str)] = &[
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x04], "SN"),
        (&[0x55, 0x04, 0x05], "serialNumber"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x09], "street"),
        (&[0x55, 0x04, 0x0a], "O"),
        (&[0x55, 0x04, 0x0b], "OU"),
        (&[0x55, 0x04, 0x2a], "givenName"),
        (
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
            "Email",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
            "DC",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
            "UID",
        ),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| *known == oid)
        .map_or_else(|| dotted(oid), |(_, short)| (*short).to_string())
}

/// `2.5.4.3` of the encoded OID `55 04 03`.
fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut arc = 0u64;
    for &b in oid {
        arc = (arc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (arc / 40).min(2);
                arcs.push(first);
                arcs.push(arc - first * 40);
            } else {
                arcs.push(arc);
            }
            arc = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Text types as text; anything else as `#` and hex, as RFC 4514 writes a
/// value it cannot show.
fn attribute_value(tag: u8, value: &[u8]) -> String {
    const UTF8_STRING: u8 = 0x0c;
    const PRINTABLE_STRING: u8 = 0x13;
    const T61_STRING: u8 = 0x14;
    const IA5_STRING: u8 = 0x16;
    const BMP_STRING: u8 = 0x1e;
    match tag {
        UTF8_STRING | PRINTABLE_STRING | IA5_STRING => {
            if let Ok(text) = std::str::from_utf8(value) {
                return text.to_string();
            }
        }
        T61_STRING => return value.iter().map(|&b| char::from(b)).collect(),
        BMP_STRING if value.len().is_multiple_of(2) => {
            let units = value
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            if let Ok(text) = char::decode_utf16(units).collect::<Result<String, _>>() {
                return text;
            }
        }
        _ => {}
    }
    let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
    format!("#{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

    fn certificate(dn: DistinguishedName) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["web".to_string()]).expect("params");
        params.distinguished_name = dn;
        let key = KeyPair::generate().expect("key");
        params.self_signed(&key).expect("sign").der().to_vec()
    }

    fn x509_parser_says(der: &[u8]) -> String {
        let (_, cert) = x509_parser::parse_x509_certificate(der).expect("x509");
        cert.subject().to_string()
    }

    #[test]
    fn names_the_subject_as_x509_parser_does() {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "web");
        dn.push(DnType::OrganizationName, "netlab");
        let der = certificate(dn);
        assert_eq!(subject(&der).as_deref(), Some("CN=web, O=netlab"));
        assert_eq!(subject(&der), Some(x509_parser_says(&der)));

        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "DE");
        dn.push(DnType::StateOrProvinceName, "Bayern");
        dn.push(DnType::LocalityName, "München");
        dn.push(DnType::OrganizationalUnitName, "ops");
        dn.push(DnType::CommonName, "db.lab");
        dn.push(
            DnType::CustomDnType(vec![1, 3, 6, 1, 4, 1, 99999, 7]),
            "lab-7",
        );
        let der = certificate(dn);
        assert_eq!(
            subject(&der).as_deref(),
            Some("C=DE, ST=Bayern, L=München, OU=ops, CN=db.lab, 1.3.6.1.4.1.99999.7=lab-7")
        );
        assert_eq!(
            subject(&der),
            Some(x509_parser_says(&der).replace("OID(1.3.6.1.4.1.99999.7)", "1.3.6.1.4.1.99999.7"))
        );
    }

    #[test]
    fn an_empty_subject_is_empty_and_garbage_is_none() {
        let der = certificate(DistinguishedName::new());
        assert_eq!(subject(&der).as_deref(), Some(""));
        assert_eq!(subject(b"not a certificate"), None);
        assert_eq!(subject(&[]), None);
        // Cut anywhere, a certificate is not one any more.
        let whole = certificate({
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, "web");
            dn
        });
        for cut in [1, 10, 100, whole.len() / 2] {
            assert_eq!(subject(&whole[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn values_that_are_not_text_are_hex() {
        assert_eq!(attribute_value(0x04, &[0xde, 0xad]), "#dead");
        assert_eq!(attribute_value(0x1e, &[0x00, 0x41, 0x00, 0xe9]), "Aé");
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            "1.2.840.113549"
        );
    }
}
