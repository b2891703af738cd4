# services.cim-appliance: one machine of a CIM Appliance deployment (modules/README.md) — a NATS
# JetStream node joining the cluster its peers name, and an appliance instance (`cim serve`) with
# a scheduled report. The NATS node runs through nixpkgs' own services.nats; its config is
# rendered by ./nats-server-config.nix, the Nix twin of `cim nats-config`.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    mkMerge
    types
    ;

  cfg = config.services.cim-appliance;
  nats = cfg.nats;

  renderServerConfig = import ./nats-server-config.nix { inherit lib; };

  # The NATS roles of appliance/cluster/nats-roles.json (the one definition of their permissions),
  # in the order of NATS_ROLES in appliance/cluster/server-config.ts, which a rendered config's
  # users follow; an assertion below keeps the two lists the same.
  roleDefinitions = (lib.importJSON ../appliance/cluster/nats-roles.json).roles;
  roleNames = [
    "service"
    "gateway"
    "loadgen"
    "auditor"
    "retention"
    "operator"
  ];

  # A secret's path on the machine: a string, never a Nix path (interpolated, that would be copied
  # into the world-readable store), and not a store path.
  secretFile =
    if types ? pathWith then
      types.pathWith {
        inStore = false;
        absolute = true;
      }
    else
      types.strMatching "/.*";

  # The user cluster routes authenticate as (ROUTE_USER in appliance/cluster/nats-users.ts).
  routeUser = "cim-route";
  # Stands for the route password in the config built into the store; replaced at start (below).
  routePasswordPlaceholder = "CIM_ROUTE_PASSWORD_FROM_CREDENTIAL";

  # The same syntax checks as appliance/config.ts, so a value `cim` would reject fails here first.
  natsDuration = types.strMatching "always|[0-9]+(ms|s|m|h)";
  # appliance/config.ts's durations of retention (`30d`, `12h`, `2w`; greater than zero).
  retentionDuration = types.strMatching "0*[1-9][0-9]*(ms|s|m|h|d|w)";
  plainName = types.strMatching "[A-Za-z0-9_-]+";
  # appliance/config.ts's listen addresses, narrowed to host names and IP addresses.
  listenAddress = types.strMatching "([[][0-9A-Fa-f:.]+[]]|[A-Za-z0-9._-]+):[0-9]{1,5}";

  monitorOnLoopback =
    lib.hasPrefix "127." nats.monitorHost
    || builtins.elem nats.monitorHost [
      "::1"
      "localhost"
    ];
  missingPublicKeys = lib.filter (role: nats.users.${role}.publicKey == null) roleNames;
  roleSeeds = lib.filterAttrs (_: file: file != null) cfg.roleCredentials;
  # The roles the units connect as: `cim serve` provisions streams as operator and runs the services
  # as service (and the HTTP gateway as gateway); a report other than comply reads as auditor.
  seedsNeeded = lib.unique ([
    "operator"
    "service"
  ]
  ++ lib.optional (cfg.httpListen != null) "gateway"
  ++ lib.optional cfg.report.enable "auditor"
  # `cim serve` applies the retention policies as the retention role.
  ++ lib.optional (cfg.retention.policies != { }) "retention"
  # The scheduled `cim comply` connects as every role to try the live access matrix.
  ++ lib.optionals comply roleNames);
  comply = cfg.report.enable && cfg.report.command != [ ] && lib.head cfg.report.command == "comply";
  # A policy says what it keeps: a maximum age, a number per aggregate, or both.
  emptyPolicies = lib.attrNames (
    lib.filterAttrs (_: p: p.maxAge == null && p.maxEventsPerAggregate == null) cfg.retention.policies
  );
  badPolicyDomains = lib.filter (d: builtins.match "[a-z][a-z0-9_-]*" d == null) (
    lib.attrNames cfg.retention.policies
  );
  # Seeds are needed where the local node asks for them, or where any are given (then the units
  # connect with seeds, not anonymously); a creds file is one identity for all roles instead.
  missingSeeds = lib.optionals ((nats.enable || roleSeeds != { }) && nats.credentialsFile == null) (
    lib.filter (role: !(roleSeeds ? ${role})) seedsNeeded
  );

  serverConfig = renderServerConfig {
    clusterName = nats.clusterName;
    node = {
      name = nats.serverName;
      host = nats.listen.host;
      clientPort = nats.listen.port;
      clusterPort = nats.clusterPort;
      monitorPort = nats.monitorPort;
      storeDir = nats.storeDir;
    };
    peers = map (peer: { inherit (peer) host clusterPort; }) nats.peers;
    syncInterval = nats.syncInterval;
    tls = if nats.tls.certFile == null then null else nats.tls;
    # Every role a user (the assertions require all keys); nobody connects without credentials.
    authorization = {
      users = map (role: {
        inherit role;
        nkey = nats.users.${role}.publicKey;
      }) (lib.filter (role: nats.users.${role}.publicKey != null) roleNames);
    }
    // lib.optionalAttrs (nats.routePasswordFile != null) {
      route = {
        user = routeUser;
        password = routePasswordPlaceholder;
      };
    };
    monitorHost = nats.monitorHost;
  };

  # A clustered node's config names the route password, a secret: the store holds the config with
  # a placeholder, and before each start the unit writes the real one (mode 0600, in its runtime
  # directory) with the password read from its systemd credential, the way nixpkgs'
  # utils.genJqSecretsReplacementSnippet does, but also inside the route URLs (as
  # encodeURIComponent: jq's @uri, which escapes !*'() too from jq 1.7 on, with those five undone).
  # The password is trimmed as `cim` trims route.secret.
  runtimeConfig = nats.enable && nats.peers != [ ] && nats.routePasswordFile != null;
  runtimeConfigFilter = ''
    ($password | sub("^[[:space:]]+"; "") | sub("[[:space:]]+$"; "")) as $pw
    | if $pw == "" then error("the route password credential is empty") else . end
    | ($pw | @uri | gsub("%21"; "!") | gsub("%2A"; "*") | gsub("%27"; "'") | gsub("%28"; "(") | gsub("%29"; ")")) as $url
    | .cluster.authorization.password = $pw
    | .cluster.routes |= map(split($placeholder) | join($url))
  '';
  runtimeConfigScript = ''
    set -euo pipefail
    umask 0077
    ${pkgs.jq}/bin/jq --rawfile password "$CREDENTIALS_DIRECTORY/route-password" \
      --arg placeholder ${routePasswordPlaceholder} ${lib.escapeShellArg runtimeConfigFilter} \
      ${pkgs.writeText "nats-template.json" (builtins.toJSON config.services.nats.settings)} \
      > "$RUNTIME_DIRECTORY/nats.conf"
  '';
  natsServerPackage = if options.services.nats ? package then config.services.nats.package else pkgs.nats-server;

  urlHost = host: if lib.hasInfix ":" host then "[${host}]" else host;
  # A server listening on every interface is reached locally through loopback.
  localHost =
    if
      builtins.elem nats.listen.host [
        "0.0.0.0"
        "::"
      ]
    then
      "127.0.0.1"
    else
      nats.listen.host;
  # Every member, this node first: `cim` counts the URLs to choose stream replicas (3 on a cluster).
  defaultUrls = [
    "nats://${urlHost localHost}:${toString nats.listen.port}"
  ] ++ map (peer: "nats://${urlHost peer.host}:${toString peer.clientPort}") nats.peers;

  # Only settings the current config schema (appliance/config.ts) knows: it rejects unknown keys.
  settings = {
    stateDir = cfg.stateDir;
    nats.urls = cfg.nats.urls;
    cluster.name = nats.clusterName;
    domains.plugins = cfg.domains.plugins;
  }
  // lib.optionalAttrs (cfg.retention.policies != { }) {
    retention = {
      policies = lib.mapAttrs (_: p: lib.filterAttrs (_: v: v != null) p) cfg.retention.policies;
      applyEvery = cfg.retention.applyEvery;
    };
  }
  // lib.optionalAttrs (cfg.httpListen != null) { http.listen = cfg.httpListen; }
  // lib.optionalAttrs (cfg.metricsListen != null) { metrics.listen = cfg.metricsListen; };
  configFile = pkgs.writeText "cim-appliance.json" (builtins.toJSON settings);

  # Secrets reach the units as systemd credentials (readable by the unit only, whoever owns the file).
  credentials =
    lib.optional (nats.credentialsFile != null) "nats.creds:${nats.credentialsFile}"
    ++ lib.mapAttrsToList (role: file: "${role}.nk:${file}") roleSeeds
    ++ lib.optional (cfg.apiKeysFile != null) "api-keys:${cfg.apiKeysFile}"
    ++ lib.optional (cfg.signingKeyFile != null) "signing-key:${cfg.signingKeyFile}";

  cim =
    args:
    lib.escapeShellArgs (
      [
        "${cfg.package}/bin/cim"
        "--config"
        "${configFile}"
      ]
      ++ lib.optionals (nats.credentialsFile != null) [
        "--creds"
        "%d/nats.creds"
      ]
      ++ args
    );

  # Where a setting names a secret, it points into the unit's credentials directory (%d, expanded
  # by systemd), which the config file written at build time cannot know.
  environment =
    lib.optionalAttrs (cfg.apiKeysFile != null) { CIM_HTTP_API_KEYS_FILE = "%d/api-keys"; }
    # `nats.usersDir`: each `cim` verb reads the seed of the role it connects as, `<role>.nk`.
    // lib.optionalAttrs (roleSeeds != { }) { CIM_NATS_USERS_DIR = "%d"; }
    # The OpenTelemetry SDK's own variable: traces are exported over OTLP/HTTP only when it is set.
    // lib.optionalAttrs (cfg.otlpEndpoint != null) { OTEL_EXPORTER_OTLP_ENDPOINT = cfg.otlpEndpoint; };

  # The port of `httpListen` (`HOST:PORT`, the host maybe an IPv6 address in brackets).
  portOf = listen: lib.toInt (lib.last (lib.splitString ":" listen));

  stateDirectory = lib.removePrefix "/var/lib/" cfg.stateDir;

  # `cim` signs with keys/signing.ed25519.key in its state dir, creating one if there is none.
  installSigningKey = lib.optionalAttrs (cfg.signingKeyFile != null) {
    ExecStartPre = lib.escapeShellArgs [
      "${pkgs.coreutils}/bin/install"
      "-D"
      "-m"
      "0600"
      "%d/signing-key"
      "${cfg.stateDir}/keys/signing.ed25519.key"
    ];
  };

  # Node.js needs writable+executable memory for its JIT, so MemoryDenyWriteExecute stays off.
  hardening = {
    User = "cim-appliance";
    Group = "cim-appliance";
    StateDirectory = stateDirectory;
    StateDirectoryMode = "0750";
    WorkingDirectory = cfg.stateDir;
    UMask = "0077";
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    NoNewPrivileges = true;
    PrivateTmp = true;
    PrivateDevices = true;
    PrivateUsers = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    ProtectClock = true;
    ProtectControlGroups = true;
    ProtectHostname = true;
    ProtectKernelLogs = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    ProtectProc = "invisible";
    LockPersonality = true;
    RemoveIPC = true;
    RestrictAddressFamilies = [
      "AF_INET"
      "AF_INET6"
      "AF_UNIX"
    ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@privileged"
    ];
    SystemCallErrorNumber = "EPERM";
  }
  // lib.optionalAttrs (credentials != [ ]) { LoadCredential = credentials; };

  # Added to nixpkgs' nats unit with default priority: where nixpkgs sets a value, its value stays.
  natsHardening = {
    CapabilityBoundingSet = "";
    NoNewPrivileges = true;
    PrivateTmp = true;
    PrivateDevices = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    ProtectControlGroups = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    RestrictAddressFamilies = [
      "AF_INET"
      "AF_INET6"
    ];
    RestrictNamespaces = true;
    RestrictSUIDSGID = true;
    SystemCallFilter = [
      "@system-service"
      "~@privileged"
    ];
    UMask = "0077";
  };

  peerType = types.submodule {
    options = {
      host = mkOption {
        type = types.str;
        example = "10.0.0.2";
        description = "Address of the other NATS node (host name, IPv4 or IPv6).";
      };
      clusterPort = mkOption {
        type = types.port;
        default = 6222;
        description = "The peer's route (cluster) port.";
      };
      clientPort = mkOption {
        type = types.port;
        default = 4222;
        description = "The peer's client port; used for the appliance's default `nats.urls`.";
      };
    };
  };

in
{
  options.services.cim-appliance = {
    enable = mkEnableOption "the CIM Appliance: a NATS JetStream node and `cim serve` on this machine";

    package = mkOption {
      type = types.package;
      defaultText = lib.literalExpression "cim-appliance.packages.\${system}.default (set by the flake's nixosModules.default)";
      description = "The CIM Appliance package; its `bin/cim` is run by the units.";
    };

    stateDir = mkOption {
      type = types.strMatching "/var/lib/[^/].*";
      default = "/var/lib/cim-appliance";
      description = ''
        The appliance's state directory (`cim --state`): signing key, ledger, reports and read
        models. Created by systemd (`StateDirectory`), so it must lie under /var/lib.
      '';
    };

    httpListen = mkOption {
      type = types.nullOr listenAddress;
      default = null;
      example = "0.0.0.0:8080";
      description = ''
        `HOST:PORT` where `cim serve` answers the HTTP API (commands, queries, health, the OpenAPI
        document). Null: no HTTP gateway. Clients authenticate with API keys from `apiKeysFile`
        (or the state directory's `api-keys.json`, made with `cim keys add`). `openFirewall` opens
        its port.
      '';
    };

    metricsListen = mkOption {
      type = types.nullOr listenAddress;
      default = null;
      example = "0.0.0.0:9464";
      description = ''
        `HOST:PORT` of a Prometheus `/metrics` endpoint of its own (no authentication). With
        `httpListen` set, `/metrics` is also served on the HTTP API's port. Null: none of its own.
      '';
    };

    otlpEndpoint = mkOption {
      type = types.nullOr (types.strMatching "https?://[^[:space:]]+");
      default = null;
      example = "http://127.0.0.1:4318";
      description = ''
        OTLP/HTTP endpoint (protobuf) the appliance sends its OpenTelemetry traces to, as
        `OTEL_EXPORTER_OTLP_ENDPOINT`. Null: no traces are exported (and none are recorded).
      '';
    };

    openMetricsPort = mkOption {
      type = types.bool;
      default = false;
      description = "Open `metricsListen`'s port in the firewall (metrics need no key: open it only to a trusted network).";
    };

    signingKeyFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/cim-signing.ed25519.key";
      description = ''
        Ed25519 private key (PEM, PKCS#8: `openssl genpkey -algorithm ed25519`) that seals and
        reports are signed with, installed into the state directory before each start. Give every
        machine of a deployment the same key: each instance seals, and `cim verify` (the scheduled
        report) trusts only its own state directory's key. Null: each machine creates its own key
        on first start, and verifying another machine's seals needs `--key` with its public key.
      '';
    };

    apiKeysFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/cim-api-keys";
      description = ''
        The HTTP API's key file (JSON, hashes only: written by `cim keys add`, see
        docs/architecture.md), handed to the unit as a systemd credential and named to `cim` in
        `CIM_HTTP_API_KEYS_FILE`. Null: the state directory's `api-keys.json`. A key file is read
        again when it changes; a credential changes on restart.
      '';
    };

    domains.plugins = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "/etc/cim/domains/invoice.js" ];
      description = "Module paths of domain plugins (made with defineDomain), served beside the reference domains.";
    };

    retention = {
      policies = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              maxAge = mkOption {
                type = types.nullOr retentionDuration;
                default = null;
                example = "30d";
                description = "Remove the domain's events older than this (`30d`, `12h`, `2w`).";
              };
              maxEventsPerAggregate = mkOption {
                type = types.nullOr types.ints.positive;
                default = null;
                example = 1000;
                description = "Keep only the newest this many events of each aggregate.";
              };
            };
          }
        );
        default = { };
        example = {
          person.maxAge = "365d";
          workflow.maxEventsPerAggregate = 1000;
        };
        description = ''
          Retention policies per domain (config `retention.policies`): `cim serve` removes, as the
          `retention` NATS role (its seed in {option}`services.cim-appliance.roleCredentials`), the
          sealed events a policy expires that no legal hold covers, each removal written to a
          manifest and the audit log first (docs/architecture.md#retention-and-legal-holds). Domain
          streams never get `max_age`. A domain without a policy keeps everything.
        '';
      };
      applyEvery = mkOption {
        type = retentionDuration;
        default = "1h";
        description = "How often `cim serve` applies the retention policies (config `retention.applyEvery`).";
      };
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open the NATS client port and, on a cluster, the route port (and the monitoring port if
        {option}`services.cim-appliance.nats.openMonitorPort` is set) in the firewall.
      '';
    };

    report = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Run {option}`services.cim-appliance.report.command` on a systemd timer.";
      };
      schedule = mkOption {
        type = types.str;
        default = "daily";
        example = "*-*-* 03:00:00";
        description = "When to run it: a systemd calendar expression (OnCalendar=).";
      };
      randomizedDelay = mkOption {
        type = types.str;
        default = "15m";
        description = "Spread the runs of many machines over this long (RandomizedDelaySec=).";
      };
      command = mkOption {
        type = types.listOf types.str;
        default = [ "comply" ];
        example = [
          "verify"
          "--json"
        ];
        description = ''
          The `cim` subcommand and arguments the timer runs (after the global --config and --creds).
          `comply` runs every compliance check and keeps the signed compliance, retention and audit
          reports in the state directory's ledger (docs/architecture.md#compliance-checks); the unit
          fails on a critical or high finding. It tries the access matrix as every NATS role, so
          it needs every role's seed in {option}`services.cim-appliance.roleCredentials`.
          `verify --json` only checks chains and seals, as the auditor role.
        '';
      };
    };

    nats = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Run a NATS JetStream node on this machine (through nixpkgs' services.nats). When false, the
          appliance attaches to the servers in {option}`services.cim-appliance.nats.urls`.
        '';
      };

      serverName = mkOption {
        type = types.str;
        default = config.networking.hostName;
        defaultText = lib.literalExpression "config.networking.hostName";
        description = "This NATS server's name; unique in the cluster.";
      };

      listen = {
        host = mkOption {
          type = types.str;
          default = "127.0.0.1";
          example = "0.0.0.0";
          description = ''
            Interface for clients, routes and monitoring (as the embedded cluster's `cluster.host`).
            A cluster across machines needs an address the peers reach, or 0.0.0.0.
          '';
        };
        port = mkOption {
          type = types.port;
          default = 4222;
          description = "Client port.";
        };
      };

      clusterPort = mkOption {
        type = types.port;
        default = 6222;
        description = "Route port the peers connect to (only listened on when there are peers).";
      };

      monitorPort = mkOption {
        type = types.port;
        default = 8222;
        description = "HTTP monitoring port (/varz, /jsz, /routez).";
      };

      monitorHost = mkOption {
        type = types.str;
        default = "127.0.0.1";
        example = "0.0.0.0";
        description = ''
          Interface the HTTP monitoring port listens on. The monitoring endpoints need no
          credentials and show every connection and stream, so they stay on loopback unless set.
        '';
      };

      openMonitorPort = mkOption {
        type = types.bool;
        default = false;
        description = "With {option}`services.cim-appliance.openFirewall`, also open the monitoring port.";
      };

      clusterName = mkOption {
        type = plainName;
        default = "cim";
        description = "Cluster name; the same on every member (as `cluster.name` of the appliance config).";
      };

      peers = mkOption {
        type = types.listOf peerType;
        default = [ ];
        example = [
          { host = "10.0.0.2"; }
          { host = "10.0.0.3"; }
        ];
        description = ''
          The other members of the cluster (not this machine). Empty: a single JetStream server
          without a cluster block. A cluster needs 3 or more members for replicated streams.
        '';
      };

      storeDir = mkOption {
        type = types.strMatching "/var/lib/[^/].*";
        default = "/var/lib/nats";
        description = ''
          JetStream store directory (nats-server adds `jetstream/` below it), owned by the `nats`
          user; systemd creates it, so it must lie under /var/lib.
        '';
      };

      syncInterval = mkOption {
        type = types.nullOr natsDuration;
        default = null;
        example = "10s";
        description = ''
          JetStream fsync interval ("2m", "100ms", or "always" for every write); null keeps the
          server default. Needs nats-server 2.10 or later.
        '';
      };

      tls = {
        certFile = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "PEM certificate for client connections and routes; readable by the `nats` user.";
        };
        keyFile = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "PEM private key of {option}`services.cim-appliance.nats.tls.certFile`; readable by the `nats` user.";
        };
        caFile = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "PEM CA that peers' certificates are checked against; with it, routes use mutual TLS.";
        };
      };

      urls = mkOption {
        type = types.listOf (types.strMatching "(nats|tls|ws|wss)://[^[:space:],]+");
        default = defaultUrls;
        defaultText = lib.literalExpression ''[ "nats://127.0.0.1:<listen.port>" ] ++ the peers' client URLs'';
        description = "NATS servers the appliance connects to (`nats.urls` of its config).";
      };

      credentialsFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        example = "/run/secrets/cim-service.creds";
        description = ''
          NATS credentials of the appliance (`cim --creds`) for a cluster of its own accounts
          (`nats.enable = false`): every role connects with them. Handed to the units as a systemd
          credential. A cluster this module runs knows the users of
          {option}`services.cim-appliance.nats.users` instead: use
          {option}`services.cim-appliance.roleCredentials`.
        '';
      };

      users = lib.genAttrs roleNames (role: {
        publicKey = mkOption {
          type = types.nullOr (types.strMatching "U[A-Z2-7]{55}");
          default = null;
          example = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
          description = ''
            Public nkey (`U…`, not secret) of the NATS user of role `${role}`, whom the local node
            lets in with that role's permissions (appliance/cluster/nats-roles.json). Every member
            of a cluster lists the same keys; the seed belongs in
            {option}`services.cim-appliance.roleCredentials` on the machines that connect as
            `${role}`. `cim --state DIR nats-config` creates a seed per role in
            `DIR/nats-users/<role>.nk` (mode 0600) and prints the public keys in its config's
            `authorization.users`, in the order service, gateway, loadgen, auditor, operator.
            Required for every role when the module runs the NATS node: a connection without
            credentials is refused.
          '';
        };
      });

      routePasswordFile = mkOption {
        type = types.nullOr secretFile;
        default = null;
        example = "/run/secrets/cim-route-password";
        description = ''
          File holding the password cluster routes authenticate with (the same on every member;
          surrounding whitespace is ignored): the `nats-users/route.secret` that
          `cim --state DIR nats-config` creates, or for example `openssl rand -hex 32`. Required with
          {option}`services.cim-appliance.nats.peers`. It never enters the Nix store: the unit
          reads it as a systemd credential and writes the nats-server config with it into its
          runtime directory (mode 0600) before each start.
        '';
      };
    };

    roleCredentials = lib.genAttrs roleNames (
      role:
      mkOption {
        type = types.nullOr secretFile;
        default = null;
        example = "/run/secrets/cim-nats-${role}.nk";
        description = ''
          File holding the nkey seed (`SU…`) of the NATS user of role `${role}` (its public key is
          {option}`services.cim-appliance.nats.users.${role}.publicKey`), handed to the appliance's
          units as the systemd credential `${role}.nk`, with `CIM_NATS_USERS_DIR` (`nats.usersDir`)
          naming their credentials directory: each `cim` verb connects as the role it needs. Never
          copied into the Nix store.
        '';
      }
    );

    settings = mkOption {
      type = types.attrsOf types.anything;
      readOnly = true;
      internal = true;
      description = "The appliance config file's contents (appliance/config.ts schema), for tests and inspection.";
    };

    nats.runtimeConfigScript = mkOption {
      type = types.nullOr types.str;
      readOnly = true;
      internal = true;
      description = "What the NATS unit runs before each start to write its config with the route password; for tests.";
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      services.cim-appliance.settings = settings;
      services.cim-appliance.nats.runtimeConfigScript = if runtimeConfig then runtimeConfigScript else null;

      assertions = [
        {
          assertion = lib.sort lib.lessThan roleNames == lib.attrNames roleDefinitions;
          message = "modules/appliance.nix: its role list differs from the roles of appliance/cluster/nats-roles.json.";
        }
        {
          assertion = !nats.enable || missingPublicKeys == [ ];
          message = "services.cim-appliance.nats.users: the NATS node refuses connections without credentials, so every role needs a user; set publicKey for ${lib.concatStringsSep ", " missingPublicKeys}.";
        }
        {
          assertion = !nats.enable || nats.peers == [ ] || nats.routePasswordFile != null;
          message = "services.cim-appliance.nats.routePasswordFile: a cluster member (nats.peers is set) needs the password its routes authenticate with.";
        }
        {
          assertion = !(nats.enable && cfg.openFirewall && nats.openMonitorPort) || !monitorOnLoopback;
          message = "services.cim-appliance.nats.openMonitorPort opens a port nothing listens on: the monitoring port is on loopback (nats.monitorHost = \"${nats.monitorHost}\").";
        }
        {
          assertion = nats.credentialsFile == null || roleSeeds == { };
          message = "services.cim-appliance: set nats.credentialsFile (one identity for every role) or roleCredentials (a seed per role), not both.";
        }
        {
          assertion = !nats.enable || nats.credentialsFile == null;
          message = "services.cim-appliance.nats.credentialsFile is for a cluster of its own accounts (nats.enable = false); the local node knows the users of nats.users: give their seeds in roleCredentials.";
        }
        {
          assertion = emptyPolicies == [ ];
          message = "services.cim-appliance.retention.policies: ${lib.concatStringsSep ", " emptyPolicies}: set maxAge and/or maxEventsPerAggregate.";
        }
        {
          assertion = badPolicyDomains == [ ];
          message = "services.cim-appliance.retention.policies: ${lib.concatStringsSep ", " badPolicyDomains}: expected a domain name (lower-case letters, digits, \"-\" or \"_\").";
        }
        {
          assertion = missingSeeds == [ ];
          message = "services.cim-appliance.roleCredentials: the appliance's units connect as ${lib.concatStringsSep ", " seedsNeeded}; set the seed of ${lib.concatStringsSep ", " missingSeeds}.";
        }
        {
          assertion = (nats.tls.certFile == null) == (nats.tls.keyFile == null);
          message = "services.cim-appliance.nats.tls: set certFile and keyFile together.";
        }
        {
          assertion = nats.tls.caFile == null || nats.tls.certFile != null;
          message = "services.cim-appliance.nats.tls.caFile needs certFile and keyFile.";
        }
        {
          assertion = nats.enable || cfg.nats.urls != [ ];
          message = "services.cim-appliance.nats.urls must name servers when nats.enable is false.";
        }
      ];

      users.users.cim-appliance = {
        isSystemUser = true;
        group = "cim-appliance";
        home = cfg.stateDir;
        description = "CIM Appliance";
      };
      users.groups.cim-appliance = { };

      # `cim` for operators: cluster status, verify, seal, replay against the running cluster.
      environment.systemPackages = [ cfg.package ];

      systemd.services.cim-appliance = {
        description = "CIM Appliance: domain services, projections and sealers on NATS JetStream";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ] ++ lib.optional nats.enable "nats.service";
        requires = lib.optional nats.enable "nats.service";
        inherit environment;
        serviceConfig = hardening // installSigningKey // {
          Type = "simple";
          ExecStart = cim [ "serve" ];
          # Until the cluster has a JetStream meta leader (peers still booting), provisioning fails.
          Restart = "on-failure";
          RestartSec = "5s";
          # cim serve answers the commands in flight, flushes projections and drains NATS on SIGTERM,
          # then exits 143 (128 + SIGTERM), which systemd would otherwise count as a failure.
          TimeoutStopSec = "60s";
          SuccessExitStatus = [ 143 ];
        };
      };

      systemd.services.cim-appliance-report = mkIf cfg.report.enable {
        description = "CIM Appliance scheduled report (cim ${lib.concatStringsSep " " cfg.report.command})";
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ] ++ lib.optional nats.enable "nats.service";
        inherit environment;
        serviceConfig = hardening // installSigningKey // {
          Type = "oneshot";
          ExecStart = cim cfg.report.command;
        };
      };

      systemd.timers.cim-appliance-report = mkIf cfg.report.enable {
        description = "Run the CIM Appliance report on schedule";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = cfg.report.schedule;
          RandomizedDelaySec = cfg.report.randomizedDelay;
          Persistent = true;
          Unit = "cim-appliance-report.service";
        };
      };

      networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall (
        lib.optionals nats.enable (
          [ nats.listen.port ]
          ++ lib.optional (nats.peers != [ ]) nats.clusterPort
          ++ lib.optional nats.openMonitorPort nats.monitorPort
        )
        ++ lib.optional (cfg.httpListen != null) (portOf cfg.httpListen)
        ++ lib.optional (cfg.openMetricsPort && cfg.metricsListen != null) (portOf cfg.metricsListen)
      );
    }

    (mkIf nats.enable {
      # nixpkgs' module renders `settings` to JSON and runs nats-server with it; its own options are
      # set to the same values it derives settings from, so both definitions agree.
      services.nats = {
        enable = true;
        serverName = nats.serverName;
        port = nats.listen.port;
        jetstream = true;
        dataDir = nats.storeDir;
        settings = serverConfig // {
          # Some nixpkgs releases derive settings.host from their own services.nats.host option.
          host = lib.mkForce serverConfig.host;
        };
      }
      // lib.optionalAttrs (options.services.nats ? validateConfig) {
        # nixpkgs runs `nats-server -t` on the config at build time, which loads the TLS files:
        # secrets that exist only on the machine, not in the build sandbox.
        validateConfig = mkIf (nats.tls.certFile != null) (lib.mkDefault false);
      };

      systemd.services.nats.serviceConfig = lib.mapAttrs (_: lib.mkDefault) natsHardening // {
        # nixpkgs creates only its default /var/lib/nats; any other store directory is ours to create.
        StateDirectory = mkIf (nats.storeDir != "/var/lib/nats") (lib.removePrefix "/var/lib/" nats.storeDir);
      };
    })

    (mkIf runtimeConfig {
      # nixpkgs' config file (and its build-time check) is not used: the placeholder is no password.
      services.nats = lib.optionalAttrs (options.services.nats ? validateConfig) { validateConfig = false; };
      systemd.services.nats.serviceConfig = {
        LoadCredential = [ "route-password:${nats.routePasswordFile}" ];
        RuntimeDirectory = "nats";
        RuntimeDirectoryMode = "0700";
        ExecStartPre = "${pkgs.writeShellScript "nats-runtime-config" runtimeConfigScript}";
        ExecStart = lib.mkForce "${natsServerPackage}/bin/nats-server -c %t/nats/nats.conf";
      };
    })
  ]);
}
