#include "common/pki.h"

#include <arpa/inet.h>
#include <time.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "openssl/bio.h"
#include "openssl/bn.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"

namespace shardex {

namespace {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr =
    std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using CsrPtr =
    std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ, X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BIGNUM, BN_free>>;
using StorePtr =
    std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX,
                    OpenSslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using NamesPtr =
    std::unique_ptr<GENERAL_NAMES,
                    OpenSslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

// An error for a failed OpenSSL call: `what` and the first queued reason.
// Drains the thread's error queue so later calls start clean.
absl::Status OpenSslError(absl::string_view what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return absl::InternalError(what);
  char reason[256];
  ERR_error_string_n(code, reason, sizeof(reason));
  return absl::InternalError(absl::StrCat(what, ": ", reason));
}

BioPtr ReadBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Everything written to a memory BIO.
std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

// Runs `write(bio)` on a fresh memory BIO and returns what it wrote.
template <typename Write>
absl::StatusOr<std::string> WritePem(absl::string_view what, Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || write(bio.get()) != 1) return OpenSslError(what);
  return BioText(bio.get());
}

// Reads the first PEM object of a kind with OpenSSL's PEM_read_bio_*
// `read`; INVALID_ARGUMENT "not a PEM <what>" if there is none.
template <typename Ptr, typename Read>
absl::StatusOr<Ptr> ParsePem(absl::string_view pem, Read read,
                             absl::string_view what) {
  BioPtr bio = ReadBio(pem);
  Ptr object(read(bio.get(), nullptr, nullptr, nullptr));
  if (object == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("not a PEM ", what));
  }
  return object;
}

absl::StatusOr<KeyPtr> ParsePrivateKey(absl::string_view pem) {
  return ParsePem<KeyPtr>(pem, PEM_read_bio_PrivateKey, "private key");
}

absl::StatusOr<KeyPtr> ParsePublicKey(absl::string_view pem) {
  return ParsePem<KeyPtr>(pem, PEM_read_bio_PUBKEY, "public key");
}

absl::StatusOr<CertPtr> ParseCertificate(absl::string_view pem) {
  return ParsePem<CertPtr>(pem, PEM_read_bio_X509, "certificate");
}

absl::Status AddNameEntry(X509_NAME* name, const char* field,
                          absl::string_view value) {
  if (value.empty()) return absl::OkStatus();
  const std::string text(value);
  if (X509_NAME_add_entry_by_txt(
          name, field, MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(text.c_str()), -1, -1,
          0) != 1) {
    return OpenSslError(absl::StrCat("setting the subject's ", field));
  }
  return absl::OkStatus();
}

// Adds one v3 extension in OpenSSL's config syntax ("critical,CA:TRUE").
absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid,
                          const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) {
    return OpenSslError(
        absl::StrCat("certificate extension ", OBJ_nid2sn(nid), "=", value));
  }
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) return OpenSslError("adding a certificate extension");
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Time not_before,
                         absl::Time not_after) {
  if (not_after <= not_before) {
    return absl::InvalidArgumentError("a certificate must end after it starts");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after)) ==
          nullptr) {
    return OpenSslError("setting the validity period");
  }
  return absl::OkStatus();
}

// A random positive 127-bit serial (RFC 5280: at most 20 octets, and
// unpredictable so that serials reveal nothing and never collide).
absl::Status SetRandomSerial(X509* cert) {
  BnPtr bn(BN_new());
  if (bn == nullptr ||
      BN_rand(bn.get(), 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError("making a serial number");
  }
  return absl::OkStatus();
}

// The subjectAltName value for a profile, or "" when it names nothing.
// Names are checked so that none can smuggle extra entries into the
// comma-separated config syntax.
absl::StatusOr<std::string> SubjectAltNames(const CertProfile& profile) {
  std::vector<std::string> entries;
  for (const std::string& dns : profile.dns_names) {
    for (char c : dns) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
          c != '.' && c != '*') {
        return absl::InvalidArgumentError(
            absl::StrCat("not a host name: \"", dns, "\""));
      }
    }
    entries.push_back(absl::StrCat("DNS:", dns));
  }
  for (const std::string& ip : profile.ip_addresses) {
    in6_addr buf;
    if (inet_pton(AF_INET, ip.c_str(), &buf) != 1 &&
        inet_pton(AF_INET6, ip.c_str(), &buf) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("not an IP address: \"", ip, "\""));
    }
    entries.push_back(absl::StrCat("IP:", ip));
  }
  return absl::StrJoin(entries, ",");
}

// Fills a certificate's fields common to CA and leaf certificates and
// signs it. `issuer` is null for a self-signed certificate.
absl::StatusOr<std::string> BuildAndSign(
    X509* cert, X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* subject_key,
    absl::string_view common_name, absl::string_view role,
    absl::Time not_before, absl::Time not_after,
    const std::vector<std::pair<int, std::string>>& extensions) {
  if (X509_set_version(cert, 2) != 1) return OpenSslError("X509_set_version");
  RETURN_IF_ERROR(SetRandomSerial(cert));
  RETURN_IF_ERROR(SetValidity(cert, not_before, not_after));
  X509_NAME* subject = X509_get_subject_name(cert);
  RETURN_IF_ERROR(AddNameEntry(subject, "O", "shardex"));
  RETURN_IF_ERROR(AddNameEntry(subject, "OU", role));
  RETURN_IF_ERROR(AddNameEntry(subject, "CN", common_name));
  X509* issuer_cert = issuer != nullptr ? issuer : cert;
  if (X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert)) != 1 ||
      X509_set_pubkey(cert, subject_key) != 1) {
    return OpenSslError("setting the issuer and public key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    RETURN_IF_ERROR(AddExtension(cert, &ctx, nid, value));
  }
  if (X509_sign(cert, issuer_key, EVP_sha256()) == 0) {
    return OpenSslError("signing the certificate");
  }
  return WritePem("writing the certificate",
                  [cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); });
}

absl::Time Asn1TimeToAbsl(const ASN1_TIME* t) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&tm));
}

std::string Asn1StringText(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
}

// The first `nid` entry of a subject, "" if none.
std::string NameField(const X509_NAME* name, int nid) {
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  return Asn1StringText(
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
}

void ReadSubjectAltNames(X509* cert, CertInfo* info) {
  NamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      info->dns_names.push_back(Asn1StringText(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      const std::string raw = Asn1StringText(name->d.iPAddress);
      char text[INET6_ADDRSTRLEN] = {};
      const int family = raw.size() == 4 ? AF_INET : AF_INET6;
      if ((raw.size() == 4 || raw.size() == 16) &&
          inet_ntop(family, raw.data(), text, sizeof(text)) != nullptr) {
        info->ip_addresses.push_back(text);
      }
    }
  }
}

}  // namespace

absl::string_view CertRoleName(CertRole role) {
  switch (role) {
    case CertRole::kServer:
      return "server";
    case CertRole::kWorker:
      return "worker";
    case CertRole::kClient:
      return "client";
  }
  return "";
}

absl::StatusOr<CertRole> ParseCertRole(absl::string_view name) {
  for (CertRole role :
       {CertRole::kServer, CertRole::kWorker, CertRole::kClient}) {
    if (name == CertRoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("a role is worker or client, not \"", name, "\""));
}

absl::StatusOr<std::string> NewPrivateKeyPem() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("making an EC P-256 key");
  return WritePem("writing the private key", [&key](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0,
                                    nullptr, nullptr);
  });
}

absl::StatusOr<std::string> PublicKeyPem(absl::string_view key_pem) {
  ASSIGN_OR_RETURN(KeyPtr key, ParsePrivateKey(key_pem));
  return WritePem("writing the public key", [&key](BIO* bio) {
    return PEM_write_bio_PUBKEY(bio, key.get());
  });
}

absl::StatusOr<std::string> SelfSignedCaPem(absl::string_view key_pem,
                                            absl::string_view common_name,
                                            absl::Time not_before,
                                            absl::Time not_after) {
  ASSIGN_OR_RETURN(KeyPtr key, ParsePrivateKey(key_pem));
  CertPtr cert(X509_new());
  if (cert == nullptr) return OpenSslError("X509_new");
  return BuildAndSign(cert.get(), nullptr, key.get(), key.get(), common_name,
                      "", not_before, not_after,
                      {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                       {NID_key_usage, "critical,keyCertSign,cRLSign"},
                       {NID_subject_key_identifier, "hash"}});
}

absl::StatusOr<std::string> IssueCertificatePem(
    absl::string_view ca_cert_pem, absl::string_view ca_key_pem,
    absl::string_view public_key_pem, const CertProfile& profile) {
  ASSIGN_OR_RETURN(CertPtr ca, ParseCertificate(ca_cert_pem));
  ASSIGN_OR_RETURN(KeyPtr ca_key, ParsePrivateKey(ca_key_pem));
  ASSIGN_OR_RETURN(KeyPtr subject_key, ParsePublicKey(public_key_pem));
  ASSIGN_OR_RETURN(std::string alt_names, SubjectAltNames(profile));
  std::vector<std::pair<int, std::string>> extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyAgreement"},
      {NID_ext_key_usage,
       profile.role == CertRole::kServer ? "serverAuth" : "clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"}};
  if (!alt_names.empty()) {
    extensions.push_back({NID_subject_alt_name, alt_names});
  }
  CertPtr cert(X509_new());
  if (cert == nullptr) return OpenSslError("X509_new");
  return BuildAndSign(cert.get(), ca.get(), ca_key.get(), subject_key.get(),
                      profile.common_name, CertRoleName(profile.role),
                      profile.not_before, profile.not_after, extensions);
}

absl::StatusOr<std::string> NewCsrPem(absl::string_view key_pem,
                                      absl::string_view common_name) {
  ASSIGN_OR_RETURN(KeyPtr key, ParsePrivateKey(key_pem));
  CsrPtr csr(X509_REQ_new());
  if (csr == nullptr || X509_REQ_set_version(csr.get(), 0) != 1) {
    return OpenSslError("X509_REQ_new");
  }
  X509_NAME* subject = X509_REQ_get_subject_name(csr.get());
  RETURN_IF_ERROR(AddNameEntry(subject, "CN", common_name));
  if (X509_REQ_set_pubkey(csr.get(), key.get()) != 1 ||
      X509_REQ_sign(csr.get(), key.get(), EVP_sha256()) == 0) {
    return OpenSslError("signing the certificate request");
  }
  return WritePem("writing the certificate request", [&csr](BIO* bio) {
    return PEM_write_bio_X509_REQ(bio, csr.get());
  });
}

absl::StatusOr<std::string> CsrPublicKeyPem(absl::string_view csr_pem) {
  ASSIGN_OR_RETURN(CsrPtr csr, ParsePem<CsrPtr>(csr_pem, PEM_read_bio_X509_REQ,
                                                "certificate request"));
  EVP_PKEY* key = X509_REQ_get0_pubkey(csr.get());
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the certificate request has no key");
  }
  if (X509_REQ_verify(csr.get(), key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the certificate request's signature does not verify");
  }
  return WritePem("writing the public key",
                  [key](BIO* out) { return PEM_write_bio_PUBKEY(out, key); });
}

absl::StatusOr<CertInfo> InspectCertificate(absl::string_view cert_pem) {
  ASSIGN_OR_RETURN(CertPtr cert, ParseCertificate(cert_pem));
  CertInfo info;
  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  char* hex = serial == nullptr ? nullptr : BN_bn2hex(serial.get());
  if (hex == nullptr) return OpenSslError("reading the serial number");
  info.serial_hex = hex;
  OPENSSL_free(hex);
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  info.common_name = NameField(subject, NID_commonName);
  info.role = NameField(subject, NID_organizationalUnitName);
  ReadSubjectAltNames(cert.get(), &info);
  info.not_before = Asn1TimeToAbsl(X509_get0_notBefore(cert.get()));
  info.not_after = Asn1TimeToAbsl(X509_get0_notAfter(cert.get()));
  info.is_ca = X509_check_ca(cert.get()) != 0;
  return info;
}

absl::StatusOr<std::string> CertificateFingerprint(absl::string_view cert_pem) {
  ASSIGN_OR_RETURN(CertPtr cert, ParseCertificate(cert_pem));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &length) != 1) {
    return OpenSslError("hashing the certificate");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
}

absl::Status VerifyCertificate(absl::string_view ca_pem,
                               absl::string_view cert_pem, absl::Time at) {
  ASSIGN_OR_RETURN(CertPtr ca, ParseCertificate(ca_pem));
  ASSIGN_OR_RETURN(CertPtr cert, ParseCertificate(cert_pem));
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || ctx == nullptr ||
      X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return OpenSslError("setting up certificate verification");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                             absl::ToTimeT(at));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return absl::UnauthenticatedError(
        absl::StrCat("certificate does not verify against the CA: ",
                     X509_verify_cert_error_string(error)));
  }
  return absl::OkStatus();
}

bool KeyMatchesCertificate(absl::string_view key_pem,
                           absl::string_view cert_pem) {
  absl::StatusOr<KeyPtr> key = ParsePrivateKey(key_pem);
  absl::StatusOr<CertPtr> cert = ParseCertificate(cert_pem);
  if (!key.ok() || !cert.ok()) return false;
  const bool match = X509_check_private_key(cert->get(), key->get()) == 1;
  ERR_clear_error();
  return match;
}

}  // namespace shardex
