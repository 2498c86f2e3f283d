#include "common/tls_diagnosis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace shardex {

namespace {

constexpr char kTlsMistakePayload[] = "type.shardex.dev/tls-mistake";

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

absl::Status Mistake(const std::string& message) {
  absl::Status st = absl::FailedPreconditionError(message);
  st.SetPayload(kTlsMistakePayload, absl::Cord("1"));
  return st;
}

// "host:port", "[v6]:port" or "dns:///host:port" -> host, port.
bool SplitAddress(const std::string& address, std::string* host,
                  std::string* port) {
  absl::string_view a = address;
  absl::ConsumePrefix(&a, "dns:///");
  absl::ConsumePrefix(&a, "ipv4:");
  absl::ConsumePrefix(&a, "ipv6:");
  const size_t colon = a.rfind(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view h = a.substr(0, colon);
  if (absl::ConsumePrefix(&h, "[")) absl::ConsumeSuffix(&h, "]");
  *host = std::string(h);
  *port = std::string(a.substr(colon + 1));
  return true;
}

// A connected TCP socket with read/write timeouts, or -1.
int Connect(const std::string& host, const std::string& port,
            absl::Duration timeout) {
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    pollfd p = {fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof(err);
    const bool ok =
        (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
         (errno == EINPROGRESS &&
          poll(&p, 1, absl::ToInt64Milliseconds(timeout)) == 1 &&
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0));
    if (!ok) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return -1;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

std::string NameOf(X509_NAME* name) {
  if (name == nullptr) return "?";
  char buf[512];
  X509_NAME_oneline(name, buf, sizeof(buf));
  return buf;
}

std::string ExpiryOf(const X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  ASN1_TIME_print(bio, X509_get0_notAfter(cert));
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

bool Expired(const X509* cert) {
  return X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
}

// "DNS:a, IP:127.0.0.1" from the subjectAltName, else the common name.
std::string NamesOf(X509* cert) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type == GEN_DNS) {
      names.push_back(absl::StrCat(
          "DNS:",
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName))));
    } else if (n->type == GEN_IPADD) {
      char ip[64] = {0};
      const int len = ASN1_STRING_length(n->d.iPAddress);
      inet_ntop(len == 4 ? AF_INET : AF_INET6,
                ASN1_STRING_get0_data(n->d.iPAddress), ip, sizeof(ip));
      names.push_back(absl::StrCat("IP:", ip));
    }
  }
  GENERAL_NAMES_free(sans);
  if (names.empty()) {
    return absl::StrCat("no subjectAltName (subject ",
                        NameOf(X509_get_subject_name(cert)), ")");
  }
  return absl::StrJoin(names, ", ");
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool MatchesHost(X509* cert, const std::string& host) {
  if (X509_check_ip_asc(cert, host.c_str(), 0) == 1) return true;
  return X509_check_host(cert, host.c_str(), host.size(), 0, nullptr) == 1;
}

X509Ptr ReadCert(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  fclose(f);
  return cert;
}

// One handshake's outcome, as far as the probe saw it.
struct Probe {
  bool connected = false;   // TCP
  bool handshaken = false;  // SSL_connect succeeded
  bool answered = false;    // the server sent application data afterwards
  bool closed_after_handshake = false;  // ... or closed the connection
  int reason = 0;               // OpenSSL's reason for the failure, if any
  X509Ptr peer;                 // the server's certificate, if it sent one
  long verify = X509_V_OK;      // the chain check against the CA
  bool cert_requested = false;  // the server asked for a client certificate
};

// SSL_CTX_set_cert_cb: a client calls it only when the server sends a
// CertificateRequest. `arg` is the Probe.
int NoteCertRequest(SSL*, void* arg) {
  static_cast<Probe*>(arg)->cert_requested = true;
  return 1;
}

// Connects, shakes hands with `ctx` and, after a handshake, sends the
// HTTP/2 preface and waits for the server's first bytes (a server that
// refuses the client's certificate says so only then, in TLS 1.3).
Probe RunProbe(SSL_CTX* ctx, const std::string& host, const std::string& port,
               absl::Duration timeout) {
  Probe probe;
  const int fd = Connect(host, port, timeout);
  if (fd < 0) return probe;
  probe.connected = true;
  ERR_clear_error();
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx));
  SSL_set_fd(ssl.get(), fd);
  SSL_set_cert_cb(ssl.get(), NoteCertRequest, &probe);
  static constexpr unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl.get(), kAlpn, sizeof(kAlpn));
  probe.handshaken = SSL_connect(ssl.get()) == 1;
  if (probe.handshaken) {
    static constexpr char kPreface[] =
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
    char buf[64];
    int ret = SSL_write(ssl.get(), kPreface, sizeof(kPreface) - 1);
    if (ret > 0) ret = SSL_read(ssl.get(), buf, sizeof(buf));
    probe.answered = ret > 0;
    // Closed (an alert, EOF, a reset) rather than slow: a read timeout is
    // SSL_ERROR_SYSCALL with EAGAIN, and says nothing about certificates.
    const int kind = ret > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl.get(), ret);
    probe.closed_after_handshake =
        kind == SSL_ERROR_SSL || kind == SSL_ERROR_ZERO_RETURN ||
        (kind == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK);
  }
  const unsigned long err = ERR_peek_last_error();
  if (err != 0) probe.reason = ERR_GET_REASON(err);
  probe.peer.reset(SSL_get1_peer_certificate(ssl.get()));
  probe.verify = SSL_get_verify_result(ssl.get());
  SSL_shutdown(ssl.get());
  ssl.reset();
  close(fd);
  return probe;
}

// A context that checks the chain against `tls.ca` (without failing the
// handshake, so the probe sees what the server sent) and presents the
// client certificate, if any.
std::unique_ptr<SSL_CTX, SslCtxFree> ClientContext(const TlsFiles& tls) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (tls.ca.empty()) {
    SSL_CTX_set_default_verify_paths(ctx.get());
  } else {
    SSL_CTX_load_verify_locations(ctx.get(), tls.ca.c_str(), nullptr);
  }
  if (!tls.cert.empty()) {
    SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM);
  }
  return ctx;
}

std::string CaName(const TlsFiles& tls) {
  return tls.ca.empty() ? std::string("the system's trusted CAs (no --tls-ca)")
                        : absl::StrCat("--tls-ca ", tls.ca);
}

// The server refused the client's certificate (or its absence).
absl::Status ClientCertMistake(const std::string& address,
                               const TlsFiles& tls) {
  if (tls.cert.empty()) {
    return Mistake(absl::StrCat(
        "the coordinator at ", address,
        " requires a client certificate (it runs with --tls-ca), and none "
        "was given: pass --tls-cert and --tls-key with a certificate signed "
        "by the CA the coordinator was given with --tls-ca"));
  }
  X509Ptr mine = ReadCert(tls.cert);
  if (mine != nullptr && Expired(mine.get())) {
    return Mistake(absl::StrCat(
        "the client certificate --tls-cert ", tls.cert, " expired on ",
        ExpiryOf(mine.get()),
        ": issue a new one (signed by the coordinator's --tls-ca) and pass "
        "it with --tls-cert and --tls-key"));
  }
  return Mistake(absl::StrCat(
      "the coordinator at ", address, " rejected the client certificate ",
      tls.cert, " (issued by ",
      mine == nullptr ? "?" : NameOf(X509_get_issuer_name(mine.get())),
      "): it must be signed by the CA the coordinator was given with "
      "--tls-ca; pass such a certificate with --tls-cert and --tls-key"));
}

bool IsClientCertAlert(int reason) {
  return reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
         reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE ||
         reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
         reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
         reason == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN ||
         reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
         reason == SSL_R_TLSV1_ALERT_DECRYPT_ERROR;
}

// The server's certificate against the CA and the address dialled.
absl::Status ServerCertMistake(const std::string& address,
                               const std::string& host, const TlsFiles& tls,
                               const Probe& probe) {
  X509* peer = probe.peer.get();
  if (probe.verify == X509_V_ERR_CERT_HAS_EXPIRED) {
    return Mistake(absl::StrCat(
        "the coordinator at ", address, " presented a certificate (",
        NameOf(X509_get_subject_name(peer)), ") that expired on ",
        ExpiryOf(peer), ": renew the coordinator's --tls-cert"));
  }
  if (probe.verify != X509_V_OK) {
    return Mistake(absl::StrCat(
        "certificate verify failed: the coordinator at ", address,
        " presented a certificate issued by ",
        NameOf(X509_get_issuer_name(peer)), ", which ", CaName(tls),
        " did not sign (", X509_verify_cert_error_string(probe.verify),
        "): pass the CA certificate that signed the coordinator's "
        "--tls-cert with --tls-ca"));
  }
  if (!MatchesHost(peer, host)) {
    return Mistake(absl::StrCat(
        "the coordinator's certificate does not name the address used: it "
        "was dialled as ",
        host, ", but the certificate is for ", NamesOf(peer),
        ": use one of those names in --coordinator, or reissue the "
        "coordinator's certificate with subjectAltName ",
        IsIpLiteral(host) ? "IP:" : "DNS:", host));
  }
  return absl::OkStatus();
}

absl::Status DiagnoseTlsClient(const std::string& address,
                               const std::string& host, const std::string& port,
                               const TlsFiles& tls, absl::Duration timeout) {
  auto ctx = ClientContext(tls);
  const Probe probe = RunProbe(ctx.get(), host, port, timeout);
  if (!probe.connected) return absl::OkStatus();
  if (probe.peer == nullptr) {
    if (probe.reason == SSL_R_WRONG_VERSION_NUMBER ||
        probe.reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
        probe.reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      return Mistake(absl::StrCat(
          "the coordinator at ", address,
          " does not speak TLS (it runs without --tls-cert), but this "
          "program connects with TLS: drop --tls-ca, --tls-cert and "
          "--tls-key, or start the coordinator with --tls-cert and "
          "--tls-key"));
    }
    return absl::OkStatus();  // a timeout, or something we cannot name
  }
  if (absl::Status st = ServerCertMistake(address, host, tls, probe);
      !st.ok()) {
    return st;
  }
  // A gRPC server refusing a client certificate in TLS 1.3 just closes
  // the connection after the handshake; in TLS 1.2 it sends an alert
  // during it. Either way it had asked for one.
  if (probe.cert_requested &&
      (probe.closed_after_handshake ||
       (!probe.handshaken && IsClientCertAlert(probe.reason)))) {
    return ClientCertMistake(address, tls);
  }
  return absl::OkStatus();
}

absl::Status DiagnosePlaintextClient(const std::string& address,
                                     const std::string& host,
                                     const std::string& port,
                                     absl::Duration timeout) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  const Probe probe = RunProbe(ctx.get(), host, port, timeout);
  if (probe.peer == nullptr) return absl::OkStatus();  // not TLS either
  return Mistake(absl::StrCat(
      "the coordinator at ", address,
      " speaks TLS, but this program connects in plaintext: pass --tls-ca "
      "with the CA certificate that signed the coordinator's (its "
      "certificate is issued by ",
      NameOf(X509_get_issuer_name(probe.peer.get())), ")"));
}

}  // namespace

// Writing to a socket the server already closed raises SIGPIPE, which
// would kill the process: block it on this thread for the probe, and
// swallow one that became pending.
class NoSigpipe {
 public:
  NoSigpipe() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~NoSigpipe() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1 &&
        sigismember(&old_, SIGPIPE) == 0) {
      const timespec zero = {0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
};

absl::Status DiagnoseTls(const std::string& address, const TlsFiles& tls,
                         absl::Duration timeout) {
  std::string host, port;
  if (!SplitAddress(address, &host, &port)) return absl::OkStatus();
  NoSigpipe no_sigpipe;
  if (!tls.any()) return DiagnosePlaintextClient(address, host, port, timeout);
  return DiagnoseTlsClient(address, host, port, tls, timeout);
}

bool IsTlsMistake(const absl::Status& status) {
  return status.GetPayload(kTlsMistakePayload).has_value();
}

}  // namespace shardex
