#pragma once
// A transport moves whole MCP messages between the client and the protocol core.
//
// run() reads until the input ends (or close() is called) and hands each message to the handler
// on the calling thread. send() may be called from any thread at any time, including while run()
// is blocked reading; messages are written whole and never interleaved.

#include "mcp/message_channel.h"

namespace transport {

class Transport : public mcp::MessageSink {
 public:
  // Blocks until end of input. Returns normally at end of input; I/O failures are logged and also
  // end the loop (the peer is gone either way).
  virtual void run(mcp::MessageHandler& handler) = 0;
};

}  // namespace transport
