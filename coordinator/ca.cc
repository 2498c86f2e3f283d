#include "coordinator/ca.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/key_file.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace shardex {

namespace {

// Clock skew allowance: certificates start a little in the past.
constexpr absl::Duration kBackdate = absl::Minutes(5);

bool IsIpAddress(const std::string& name) {
  in6_addr buf;
  return inet_pton(AF_INET, name.c_str(), &buf) == 1 ||
         inet_pton(AF_INET6, name.c_str(), &buf) == 1;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// The advertised names, deduplicated and sorted, as a server profile's SANs.
void SplitNames(const std::vector<std::string>& names, CertProfile* profile) {
  const std::set<std::string> unique(names.begin(), names.end());
  for (const std::string& name : unique) {
    (IsIpAddress(name) ? profile->ip_addresses : profile->dns_names)
        .push_back(name);
  }
}

// The same names as a set, for comparing with a certificate's SANs.
std::set<std::string> NameSet(const std::vector<std::string>& dns,
                              const std::vector<std::string>& ips) {
  std::set<std::string> names(dns.begin(), dns.end());
  names.insert(ips.begin(), ips.end());
  return names;
}

// Loads ca.key and ca.crt, or makes them if neither exists.
absl::StatusOr<std::pair<std::string, std::string>> LoadOrCreateCa(
    const CaOptions& options, absl::Time now) {
  const std::string key_path = absl::StrCat(options.dir, "/ca.key");
  const std::string cert_path = absl::StrCat(options.dir, "/ca.crt");
  const bool have_key = FileExists(key_path);
  if (have_key != FileExists(cert_path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the built-in CA in ", options.dir,
        " is incomplete (ca.key and ca.crt go together); restore the "
        "missing file, or move the directory away to make a new CA (every "
        "join token and certificate it issued then stops working)"));
  }
  if (have_key) {
    ASSIGN_OR_RETURN(std::string key, ReadKeyFile(key_path));
    ASSIGN_OR_RETURN(std::string cert, ReadFile(cert_path));
    if (!KeyMatchesCertificate(key, cert)) {
      return absl::FailedPreconditionError(
          absl::StrCat(cert_path, " is not the certificate of ", key_path));
    }
    return std::make_pair(std::move(key), std::move(cert));
  }
  ASSIGN_OR_RETURN(std::string key, NewPrivateKeyPem());
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  ASSIGN_OR_RETURN(std::string cert,
                   SelfSignedCaPem(key, absl::StrCat("shardex CA on ", host),
                                   now - kBackdate, now + options.ca_validity));
  RETURN_IF_ERROR(WriteKeyFile(key_path, key));
  RETURN_IF_ERROR(WriteFileWithMode(cert_path, cert, 0644));
  LOG(INFO) << "created the built-in CA in " << options.dir;
  return std::make_pair(std::move(key), std::move(cert));
}

}  // namespace

std::vector<std::string> DefaultAdvertisedNames(const std::string& listen) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  std::string host = listen;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host != "0.0.0.0" && host != "::") {
    names.push_back(host);
  }
  char hostname[256] = {};
  if (gethostname(hostname, sizeof(hostname) - 1) == 0 && hostname[0] != '\0') {
    names.push_back(hostname);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>>
CertificateAuthority::Open(const CaOptions& options, Clock* clock) {
  RETURN_IF_ERROR(MakeDirs(options.dir, 0700, "CA directory"));
  ASSIGN_OR_RETURN(auto ca, LoadOrCreateCa(options, clock->Now()));
  ASSIGN_OR_RETURN(std::string fingerprint, CertificateFingerprint(ca.second));
  ASSIGN_OR_RETURN(
      std::unique_ptr<CertRegistry> registry,
      CertRegistry::Open(absl::StrCat(options.dir, "/registry.db")));
  std::unique_ptr<CertificateAuthority> authority(new CertificateAuthority(
      options, clock, std::move(ca.first), std::move(ca.second),
      std::move(fingerprint), std::move(registry)));
  RETURN_IF_ERROR(authority->RenewServerCertificateIfNeeded().status());
  return authority;
}

CertificateAuthority::CertificateAuthority(
    const CaOptions& options, Clock* clock, std::string ca_key_pem,
    std::string ca_cert_pem, std::string fingerprint,
    std::unique_ptr<CertRegistry> registry)
    : options_(options),
      clock_(clock),
      ca_key_pem_(std::move(ca_key_pem)),
      ca_cert_pem_(std::move(ca_cert_pem)),
      fingerprint_(std::move(fingerprint)),
      registry_(std::move(registry)) {}

std::string CertificateAuthority::ca_cert_path() const {
  return absl::StrCat(options_.dir, "/ca.crt");
}
std::string CertificateAuthority::server_cert_path() const {
  return absl::StrCat(options_.dir, "/server.crt");
}
std::string CertificateAuthority::server_key_path() const {
  return absl::StrCat(options_.dir, "/server.key");
}

absl::StatusOr<bool> CertificateAuthority::ServerCertificateIsCurrent() const {
  if (!FileExists(server_cert_path()) || !FileExists(server_key_path())) {
    return false;
  }
  ASSIGN_OR_RETURN(std::string key, ReadKeyFile(server_key_path()));
  ASSIGN_OR_RETURN(std::string cert, ReadFile(server_cert_path()));
  const absl::Time now = clock_->Now();
  if (!KeyMatchesCertificate(key, cert) ||
      !VerifyCertificate(ca_cert_pem_, cert, now).ok()) {
    return false;
  }
  ASSIGN_OR_RETURN(CertInfo info, InspectCertificate(cert));
  if (info.not_after - now <= options_.server_validity / 3) return false;
  CertProfile wanted;
  SplitNames(options_.advertise, &wanted);
  return NameSet(info.dns_names, info.ip_addresses) ==
         NameSet(wanted.dns_names, wanted.ip_addresses);
}

absl::StatusOr<bool> CertificateAuthority::RenewServerCertificateIfNeeded() {
  absl::MutexLock lock(&renew_mu_);
  ASSIGN_OR_RETURN(bool current, ServerCertificateIsCurrent());
  if (current) return false;
  const absl::Time now = clock_->Now();
  CertProfile profile;
  profile.common_name = "shardex coordinator";
  profile.role = CertRole::kServer;
  SplitNames(options_.advertise, &profile);
  profile.not_before = now - kBackdate;
  profile.not_after = now + options_.server_validity;
  ASSIGN_OR_RETURN(std::string key, NewPrivateKeyPem());
  ASSIGN_OR_RETURN(std::string public_key, PublicKeyPem(key));
  ASSIGN_OR_RETURN(
      std::string cert,
      IssueCertificatePem(ca_cert_pem_, ca_key_pem_, public_key, profile));
  // Key first: a reader between the two renames sees a mismatched pair
  // and retries; it never sees a certificate whose key is missing.
  RETURN_IF_ERROR(WriteKeyFile(server_key_path(), key));
  RETURN_IF_ERROR(WriteFileWithMode(server_cert_path(), cert, 0644));
  LOG(INFO) << "issued the coordinator's TLS certificate for "
            << absl::StrJoin(options_.advertise, ", ") << " (until "
            << absl::FormatTime(profile.not_after) << ")";
  return true;
}

absl::StatusOr<std::string> CertificateAuthority::Sign(
    absl::string_view csr_pem, CertRole role, const std::string& name) {
  if (role == CertRole::kServer) {
    return absl::InvalidArgumentError(
        "the CA issues server certificates only to its own coordinator");
  }
  ASSIGN_OR_RETURN(std::string public_key, CsrPublicKeyPem(csr_pem));
  const absl::Time now = clock_->Now();
  CertProfile profile;
  profile.common_name = name;
  profile.role = role;
  // Short-lived test certificates get a proportionally short backdate, so
  // a holder's "a third of the life left" stays close to the real third.
  profile.not_before = now - std::min(kBackdate, options_.issued_validity / 10);
  profile.not_after = now + options_.issued_validity;
  ASSIGN_OR_RETURN(
      std::string cert,
      IssueCertificatePem(ca_cert_pem_, ca_key_pem_, public_key, profile));
  ASSIGN_OR_RETURN(CertInfo info, InspectCertificate(cert));
  IssuedCert record;
  record.serial_hex = info.serial_hex;
  record.role = std::string(CertRoleName(role));
  record.name = name;
  record.issued_at = now;
  record.not_after = profile.not_after;
  RETURN_IF_ERROR(registry_->Record(record));
  return cert;
}

}  // namespace shardex
