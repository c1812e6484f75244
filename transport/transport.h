#pragma once
// A transport moves whole MCP messages between the client and the protocol core.
//
// run() reads until the input ends and hands each message to the handler on the calling thread,
// one at a time; a message over the transport's size limit is discarded and reported through
// MessageHandler::on_oversized_message instead. There is no close(): StdioTransport's input ends
// when the client closes it, MemoryTransport's when the test calls close_input(). send() may be
// called from any thread at any time, including while run() is blocked reading; messages are
// written whole and never interleaved. After a failed write (the client went away) StdioTransport
// drops every later message.

#include "mcp/message_channel.h"

namespace bluegreen::transport {

class Transport : public mcp::MessageSink {
 public:
  // Blocks until end of input, then returns (StdioTransport: a last line without a newline still
  // counts). A read error is logged and also ends it (the peer is gone either way); nothing is
  // thrown.
  virtual void run(mcp::MessageHandler& handler) = 0;
};

}  // namespace bluegreen::transport
