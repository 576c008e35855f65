// Preloaded into Portkey's Node server (`node --import`): its start-server.js listens on every interface and has no
// host option; benchmarks only ever listen on 127.0.0.1. A listen(port[, cb]) without a host gets 127.0.0.1.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, host, ...rest) {
  if (typeof port === "number" && typeof host !== "string") {
    return listen.call(this, port, "127.0.0.1", ...(host === undefined ? rest : [host, ...rest]));
  }
  return listen.call(this, port, host, ...rest);
};
