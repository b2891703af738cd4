# The nats-server config of one node, as Nix: the same function as renderServerConfig in
# appliance/cluster/server-config.ts (the one renderer `cim nats-config` and the embedded cluster
# use). test/nix/module-eval.test.ts holds the two equal for the same inputs; change them together.
# The permissions of each role come from appliance/cluster/nats-roles.json, the one definition
# both renderers read.
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
  # { users = [ { role, nkey } ]; route ? { user, password } } or null: a nkey user per role (in
  # the order given) with its role's permissions, and the credentials routes authenticate with
  # (required with peers). Null: nobody is asked for credentials.
  authorization ? null,
  # the leading subject token `{prefix}` stands for in the role permissions
  subjectPrefix ? "cim",
  # the interface the HTTP monitoring port listens on
  monitorHost ? "127.0.0.1",
}:

let
  roles = (lib.importJSON ../appliance/cluster/nats-roles.json).roles;

  # `host:port`, with an IPv6 address in brackets.
  hostPort = host: port: if lib.hasInfix ":" host then "[${host}]:${toString port}" else "${host}:${toString port}";

  # JavaScript's encodeURIComponent, for ASCII: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) as %XX.
  unreserved = lib.stringToCharacters "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()";
  encodeURIComponent =
    s:
    lib.concatMapStrings (
      c:
      if builtins.elem c unreserved then
        c
      else
        "%${lib.fixedWidthString 2 "0" (lib.toHexString (lib.strings.charToInt c))}"
    ) (lib.stringToCharacters s);

  # A role's permissions in nats-server's syntax, `{prefix}` replaced; empty lists left out.
  rolePermissions =
    role:
    let
      definition = roles.${role} or (throw "nats-server-config.nix: no NATS role named \"${role}\"");
      substitute = map (lib.replaceStrings [ "{prefix}" ] [ subjectPrefix ]);
      rules =
        r:
        lib.optionalAttrs (r.allow != [ ]) { allow = substitute r.allow; }
        // lib.optionalAttrs (r.deny != [ ]) { deny = substitute r.deny; };
    in
    {
      publish = rules definition.publish;
      subscribe = rules definition.subscribe;
    }
    // lib.optionalAttrs definition.allowResponses { allow_responses = true; };

  route = if authorization == null then null else authorization.route or null;
  userInfo =
    if route == null then "" else "${encodeURIComponent route.user}:${encodeURIComponent route.password}@";

  # Clients are not asked for certificates; peers are, when a CA is given to check them against.
  tlsBlock =
    isRoute:
    {
      cert_file = tls.certFile;
      key_file = tls.keyFile;
    }
    // lib.optionalAttrs ((tls.caFile or null) != null) (
      { ca_file = tls.caFile; } // lib.optionalAttrs isRoute { verify = true; }
    );
in
assert lib.assertMsg (
  peers == [ ] || authorization == null || route != null
) "nats-server-config.nix: authorization without route credentials: cluster routes must authenticate";
{
  server_name = node.name;
  host = node.host;
  port = node.clientPort;
  http = hostPort monitorHost node.monitorPort;
  jetstream = {
    store_dir = node.storeDir;
  } // lib.optionalAttrs (syncInterval != null) { sync_interval = syncInterval; };
}
// lib.optionalAttrs (tls != null) { tls = tlsBlock false; }
// lib.optionalAttrs (authorization != null) {
  authorization.users = map (user: {
    inherit (user) nkey;
    permissions = rolePermissions user.role;
  }) authorization.users;
}
// lib.optionalAttrs (peers != [ ]) {
  cluster = {
    name = clusterName;
    host = node.host;
    port = node.clusterPort;
    routes = map (peer: "nats-route://${userInfo}${hostPort peer.host peer.clusterPort}") peers;
  }
  // lib.optionalAttrs (route != null) {
    authorization = {
      inherit (route) user password;
    };
  }
  // lib.optionalAttrs (tls != null) { tls = tlsBlock true; };
}
