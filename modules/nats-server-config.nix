# The nats-server config of one node, as Nix: the same function as renderServerConfig in
# appliance/cluster/server-config.ts (the one renderer `cim nats-config` and the embedded cluster
# use). test/nix/module-eval.test.ts holds the two equal for the same inputs; change them together.
{ lib }:

{
  clusterName,
  # { name, host, clientPort, clusterPort, monitorPort, storeDir }
  node,
  # [ { host, clusterPort } ]: the other members; empty for a single server (no cluster block)
  peers,
  # JetStream fsync interval ("2m", "always"); null keeps the server default
  syncInterval ? null,
  # { certFile, keyFile, caFile ? null } or null: TLS for clients and, with the same files, routes
  tls ? null,
}:

let
  # `host:port`, with an IPv6 address in brackets.
  hostPort = host: port: if lib.hasInfix ":" host then "[${host}]:${toString port}" else "${host}:${toString port}";

  # Clients are not asked for certificates; peers are, when a CA is given to check them against.
  tlsBlock =
    route:
    {
      cert_file = tls.certFile;
      key_file = tls.keyFile;
    }
    // lib.optionalAttrs ((tls.caFile or null) != null) (
      { ca_file = tls.caFile; } // lib.optionalAttrs route { verify = true; }
    );
in
{
  server_name = node.name;
  host = node.host;
  port = node.clientPort;
  http = hostPort node.host node.monitorPort;
  jetstream = {
    store_dir = node.storeDir;
  } // lib.optionalAttrs (syncInterval != null) { sync_interval = syncInterval; };
}
// lib.optionalAttrs (tls != null) { tls = tlsBlock false; }
// lib.optionalAttrs (peers != [ ]) {
  cluster = {
    name = clusterName;
    host = node.host;
    port = node.clusterPort;
    routes = map (peer: "nats-route://${hostPort peer.host peer.clusterPort}") peers;
  } // lib.optionalAttrs (tls != null) { tls = tlsBlock true; };
}
