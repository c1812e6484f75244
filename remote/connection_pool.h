#pragma once
// Internal to remote/ (SshExecutor's parts): the SSH connections to one host, so that commands,
// file reads and socket queries to one host run at the same time instead of waiting for each
// other (a status call must not wait for an 8 s deploy step on the same host).
//
// An operation leases one connection for its whole run: an idle one if there is one (the oldest
// first, as it is most likely open already), else a new one while fewer than the bound exist,
// else it waits until one is returned, its deadline passes or its stop is requested. Each
// connection carries its own SFTP reader and socket forwarder, so what was learnt about one
// session (no SFTP, forwarding refused) stays with that session, as before.
//
// A held process (Executor::hold()) keeps its channel on the connection it was started on after
// the lease ends: that connection goes back to the pool and other operations use it too (a
// channel per operation, one session). The held handle keeps the connection alive; a connection
// with a held channel is never closed for being idle.
//
// Connections beyond the first that stayed idle for `idle_limit` are closed when a lease ends, so
// a burst of parallel calls leaves no crowd of sessions open for good.
//
// Thread-safety: all methods may be called from any thread. A Lease belongs to one thread at a
// time. The pool's mutex is never held while a connection is used or closed, so a slow host
// never blocks leases to other connections.

#include "common/result.h"
#include "remote/libssh_support.h"
#include "remote/sftp_reader.h"
#include "remote/socket_forwarder.h"
#include "remote/ssh_connection.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::remote {

// One session to the host and what is kept per session on it. Members are destroyed in reverse
// order, so the SFTP reader frees its channel while the session still exists.
struct PooledConnection {
  PooledConnection(const std::string& host, const SshSettings& settings, SshConfigResolver& resolver)
      : connection(host, settings, resolver), sftp(connection), sockets(connection) {}

  SshConnection connection;
  SftpReader sftp;
  SocketForwarder sockets;
};

class ConnectionPool {
 public:
  // `host`: an SSH destination; `settings` and `resolver` must outlive the pool. `max_connections` (at least 1)
  // bounds the sessions open at once; `idle_limit` is how long a connection beyond the first may
  // stay unused before it is closed. Nothing is opened here.
  ConnectionPool(std::string host, const SshSettings& settings, SshConfigResolver& resolver,
                 std::size_t max_connections, std::chrono::milliseconds idle_limit);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Exclusive use of one connection until destroyed (or moved from); then it returns to the pool.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    PooledConnection& operator*() const { return *entry_; }
    PooledConnection* operator->() const { return entry_.get(); }
    // The connection, sharing ownership of its entry: a held process keeps it alive with this.
    [[nodiscard]] std::shared_ptr<SshConnection> shared_connection() const { return {entry_, &entry_->connection}; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::shared_ptr<PooledConnection> entry) : pool_(pool), entry_(std::move(entry)) {}
    ConnectionPool* pool_;
    std::shared_ptr<PooledConnection> entry_;
  };

  // Leases a connection (it may not be open yet: SshConnection::ensure_connected() opens it).
  // Blocks while all max_connections are leased. Errors: kDeadlineExceeded when `deadline`
  // passes first, kCancelled when `stop` is requested first (the messages name the host and the
  // bound). Never touches the network.
  bluegreen::Result<Lease> acquire(SshClock::time_point deadline, const std::stop_token& stop);

  // Connections that exist now (leased or not), and how many of them are leased; for tests and logs.
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::size_t leased() const;

 private:
  struct Slot {
    std::shared_ptr<PooledConnection> entry;
    bool leased = false;
    SshClock::time_point idle_since{};
  };

  void release(const std::shared_ptr<PooledConnection>& entry);

  const std::string host_;
  const SshSettings& settings_;
  SshConfigResolver& resolver_;
  const std::size_t max_connections_;
  const std::chrono::milliseconds idle_limit_;
  mutable std::mutex mutex_;  // guards slots_
  std::condition_variable_any returned_;
  std::vector<Slot> slots_;  // in creation order
};

}  // namespace bluegreen::remote
