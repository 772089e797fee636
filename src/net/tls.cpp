#include "net/tls.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <limits>
#include <mutex>

#include <fmt/format.h>

#include "base/error.hpp"
#include "base/fork_safety.hpp"
#include "base/text.hpp"

namespace redlock::core {

namespace {

void init_openssl() {
    // OpenSSL 1.1+ initialises itself thread-safely; asking once, explicitly, keeps a host program that uses OpenSSL
    // itself undisturbed (no global state is replaced or cleaned up by us).
    static std::once_flag once;
    std::call_once(once, [] { OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr); });
}

// This thread's OpenSSL error queue, drained into one bounded line.
std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        if (out.size() < 600) out += buf;
    }
    return out.empty() ? "no details from OpenSSL" : out;
}

bool is_ip_address(const std::string &s) {
    in6_addr a6;
    in_addr a4;
    return ::inet_pton(AF_INET, s.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

class TlsTransport final : public Transport {
public:
    TlsTransport(std::unique_ptr<Transport> inner, SSL *ssl) : inner_(std::move(inner)), ssl_(ssl), pid_(current_pid()) {
        BIO *bio = BIO_new(method());
        if (!bio) throw Error(Errc::no_memory, "out of memory (TLS)");
        BIO_set_data(bio, this);
        BIO_set_init(bio, 1);
        SSL_set_bio(ssl_, bio, bio);  // the SSL owns it now
    }
    ~TlsTransport() override {
        // A close_notify on a healthy connection of this process; never from a fork()ed child (the parent's session)
        // nor after a failure (the reset that abort_on_close asked for must not wait behind it).
        if (!aborting_ && current_pid() == pid_) {
            const Deadline soon = Deadline::after(Millis(200));
            deadline_ = &soon;
            (void)SSL_shutdown(ssl_);
            ERR_clear_error();
        }
        SSL_free(ssl_);
    }
    TlsTransport(const TlsTransport &) = delete;
    TlsTransport &operator=(const TlsTransport &) = delete;

    void handshake(const ClientConfig &cfg, const Deadline &deadline) {
        deadline_ = &deadline;
        ERR_clear_error();
        const int rc = SSL_connect(ssl_);
        if (rc == 1) return;
        const std::string where = cfg.describe();
        const long verify = SSL_get_verify_result(ssl_);
        std::string detail = openssl_errors();
        if (verify != X509_V_OK && cfg.tls_context->verify()) {
            const bool name = verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
            throw Error(Errc::connection,
                        name ? fmt::format("TLS: the certificate of {} is not for '{}' ({}); set tls_server_name to the "
                                           "name it was issued for",
                                           where, printable(server_name(cfg), 128),
                                           X509_verify_cert_error_string(verify))
                             : fmt::format("TLS: the certificate of {} is not trusted: {} (check tls_ca_file or "
                                           "tls_ca_dir)",
                                           where, X509_verify_cert_error_string(verify)));
        }
        if (error_) {
            if (error_->code() == Errc::timed_out)
                throw Error(Errc::connection,
                            received_ == 0 ? fmt::format("TLS handshake with {} timed out: no TLS answer (a plain "
                                                         "Redis port needs redis://, or the server is too slow)",
                                                         where)
                                           : fmt::format("TLS handshake with {} timed out (the server stopped "
                                                         "answering after {} bytes)",
                                                         where, received_));
            throw Error(Errc::connection, fmt::format("TLS handshake with {} failed: {} (a plain Redis port? it needs "
                                                      "redis://)",
                                                      where, error_->what()));
        }
        const bool not_tls = detail.find("wrong version number") != std::string::npos ||
                             detail.find("packet length too long") != std::string::npos ||
                             detail.find("record layer failure") != std::string::npos;
        throw Error(Errc::connection, not_tls ? fmt::format("{} did not answer with TLS: a plain Redis port needs "
                                                            "redis:// ({})",
                                                            where, detail)
                                              : fmt::format("TLS handshake with {} failed: {}", where, detail));
    }

    void write_all(const char *data, size_t len, const Deadline &deadline) override {
        deadline_ = &deadline;
        while (len > 0) {
            ERR_clear_error();
            size_t n = 0;
            const int rc = SSL_write_ex(ssl_, data, len, &n);
            if (rc <= 0) fail(rc, "write");
            data += n;
            len -= n;
        }
    }

    size_t read_some(char *buf, size_t cap, const Deadline &deadline) override {
        deadline_ = &deadline;
        for (;;) {
            ERR_clear_error();
            size_t n = 0;
            const int rc = SSL_read_ex(ssl_, buf, cap, &n);
            if (rc > 0) return n;
            if (SSL_get_error(ssl_, rc) == SSL_ERROR_WANT_READ && !error_) continue;  // a record without data
            fail(rc, "read");
        }
    }

    size_t read_now(char *buf, size_t cap) override {
        struct NonBlocking {
            bool &flag;
            explicit NonBlocking(bool &f) : flag(f) { flag = true; }
            ~NonBlocking() { flag = false; }
        } nb(nonblocking_);
        const Deadline now = Deadline::after(Millis(0));
        deadline_ = &now;
        ERR_clear_error();
        size_t n = 0;
        const int rc = SSL_read_ex(ssl_, buf, cap, &n);
        if (rc > 0) return n;
        if (SSL_get_error(ssl_, rc) == SSL_ERROR_WANT_READ && !error_) return 0;  // nothing, or only handshake records
        fail(rc, "read");
    }

    bool looks_dead() noexcept override {
        if (SSL_pending(ssl_) > 0) return true;  // decrypted bytes nobody asked for
        if (!inner_->looks_dead()) return false;
        // Bytes on the socket, or its end. TLS 1.3 servers send session tickets after the handshake: those are no
        // reply. Read what has come, without waiting: application data or the end means dead.
        try {
            char c;
            return read_now(&c, 1) > 0 || inner_->looks_dead();
        } catch (...) {
            return true;
        }
    }

    void abort_on_close() noexcept override {
        aborting_ = true;
        inner_->abort_on_close();
    }
    int poll_fd() const noexcept override { return inner_->poll_fd(); }

private:
    static std::string server_name(const ClientConfig &cfg) {
        return cfg.tls_options.server_name ? *cfg.tls_options.server_name : cfg.host;
    }

    [[noreturn]] void fail(int rc, const char *what) {
        const int e = SSL_get_error(ssl_, rc);
        if (error_) {
            Error err = *error_;
            error_.reset();
            throw err;  // the transport's own: a timeout, a closed connection
        }
        if (e == SSL_ERROR_ZERO_RETURN) throw Error(Errc::connection, "connection closed by the server (TLS)");
        throw Error(Errc::connection, fmt::format("TLS {} failed: {}", what, openssl_errors()));
    }

    static BIO_METHOD *method() {
        static BIO_METHOD *m = [] {
            BIO_METHOD *bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "redlock transport");
            BIO_meth_set_write(bm, bio_write);
            BIO_meth_set_read(bm, bio_read);
            BIO_meth_set_ctrl(bm, [](BIO *, int cmd, long, void *) -> long { return cmd == BIO_CTRL_FLUSH ? 1 : 0; });
            return bm;
        }();
        return m;
    }

    // The BIO reads and writes through the plain transport, with the current call's deadline. Its exceptions stop
    // here (they cannot cross OpenSSL's C frames): kept, and thrown once SSL_* has returned.
    static int bio_write(BIO *b, const char *data, int len) {
        auto *t = static_cast<TlsTransport *>(BIO_get_data(b));
        BIO_clear_retry_flags(b);
        try {
            t->inner_->write_all(data, static_cast<size_t>(len), *t->deadline_);
            return len;
        } catch (const Error &e) {
            t->error_ = e;
        } catch (...) {
            t->error_ = Error(Errc::no_memory, "out of memory (TLS write)");
        }
        return -1;
    }
    static int bio_read(BIO *b, char *buf, int cap) {
        auto *t = static_cast<TlsTransport *>(BIO_get_data(b));
        BIO_clear_retry_flags(b);
        try {
            size_t n = t->nonblocking_ ? t->inner_->read_now(buf, static_cast<size_t>(cap))
                                       : t->inner_->read_some(buf, static_cast<size_t>(cap), *t->deadline_);
            if (n == 0) {  // nothing yet, without waiting
                BIO_set_retry_read(b);
                return -1;
            }
            t->received_ += n;
            return static_cast<int>(n);
        } catch (const Error &e) {
            t->error_ = e;
        } catch (...) {
            t->error_ = Error(Errc::no_memory, "out of memory (TLS read)");
        }
        return -1;
    }

    std::unique_ptr<Transport> inner_;
    SSL *ssl_;
    const pid_t pid_;
    const Deadline *deadline_ = nullptr;  // the current call's
    std::optional<Error> error_;          // what the plain transport threw inside OpenSSL
    bool nonblocking_ = false;
    bool aborting_ = false;
    size_t received_ = 0;  // bytes from the server so far (a handshake that stalls midway is not "no TLS")
};

}  // namespace

TlsContext::TlsContext(const TlsOptions &o) {
    init_openssl();
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    if (!ctx) throw Error(Errc::no_memory, fmt::format("TLS: cannot create a context: {}", openssl_errors()));
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    verify_ = o.verify.value_or(true);
    SSL_CTX_set_verify(ctx.get(), verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    if (o.ca_dir) {
        struct stat st {};
        if (::stat(o.ca_dir->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            throw Error(Errc::invalid, fmt::format("TLS: the CA directory '{}' is not a readable directory",
                                                   printable(*o.ca_dir, 256)));
    }
    if (o.ca_file || o.ca_dir) {
        if (SSL_CTX_load_verify_locations(ctx.get(), o.ca_file ? o.ca_file->c_str() : nullptr,
                                          o.ca_dir ? o.ca_dir->c_str() : nullptr) != 1)
            throw Error(Errc::invalid, fmt::format("TLS: cannot load the CA {} '{}': {}", o.ca_file ? "file" : "directory",
                                                   printable(o.ca_file ? *o.ca_file : *o.ca_dir, 256),
                                                   openssl_errors()));
    } else if (verify_) {
        SSL_CTX_set_default_verify_paths(ctx.get());
    }
    if (o.cert_file || o.key_file) {
        if (!o.cert_file || !o.key_file)
            throw Error(Errc::invalid, "TLS: a client certificate needs both tls_cert_file and tls_key_file");
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert_file->c_str()) != 1)
            throw Error(Errc::invalid, fmt::format("TLS: cannot load the certificate file '{}': {}",
                                                   printable(*o.cert_file, 256), openssl_errors()));
        // A library never prompts for a passphrase (OpenSSL's default would read the terminal): an encrypted key
        // is refused, saying so.
        bool asked = false;
        SSL_CTX_set_default_passwd_cb(ctx.get(), [](char *, int, int, void *asked_) {
            *static_cast<bool *>(asked_) = true;
            return 0;
        });
        SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), &asked);
        const int loaded = SSL_CTX_use_PrivateKey_file(ctx.get(), o.key_file->c_str(), SSL_FILETYPE_PEM);
        SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), nullptr);
        if (loaded != 1 && asked) {
            ERR_clear_error();
            throw Error(Errc::invalid, fmt::format("TLS: the key file '{}' is encrypted (a passphrase): not supported; "
                                                   "store it decrypted, readable only by this program's user",
                                                   printable(*o.key_file, 256)));
        }
        if (loaded != 1) {
            const std::string why = openssl_errors();
            if (why.find("key values mismatch") != std::string::npos)
                throw Error(Errc::invalid, "TLS: the key in tls_key_file does not match the certificate in tls_cert_file");
            throw Error(Errc::invalid, fmt::format("TLS: cannot load the key file '{}': {}", printable(*o.key_file, 256),
                                                   why));
        }
        if (SSL_CTX_check_private_key(ctx.get()) != 1)
            throw Error(Errc::invalid, "TLS: the key in tls_key_file does not match the certificate in tls_cert_file");
    }
    ctx_ = ctx.release();
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<Transport> tls_over(std::unique_ptr<Transport> inner, const ClientConfig &cfg, const Deadline &deadline) {
    if (!cfg.tls_context) throw Error(Errc::internal, "TLS: no context");
    SSL *ssl = SSL_new(cfg.tls_context->get());
    if (!ssl) throw Error(Errc::no_memory, fmt::format("TLS: {}", openssl_errors()));
    auto t = std::make_unique<TlsTransport>(std::move(inner), ssl);
    const std::string name = cfg.tls_options.server_name ? *cfg.tls_options.server_name : cfg.host;
    if (!is_ip_address(name) && !name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());  // SNI: names only
    if (cfg.tls_context->verify()) {
        // An empty name would clear the check rather than fail it: never (the URL parser refuses empty names too).
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        const int set = name.empty() || name.find('\0') != std::string::npos ? 0
                        : is_ip_address(name)                               ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                                                            : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
        if (set != 1) throw Error(Errc::invalid, "TLS: the server name to verify is not usable (empty or not a name)");
    }
    t->handshake(cfg, deadline);
    return t;
}

}  // namespace redlock::core
