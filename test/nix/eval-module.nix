# Evaluates the NixOS module with nixpkgs' real lib.evalModules against stand-ins of the NixOS
# options it sets (./nixos-stubs.nix) and of nixpkgs' services.nats (./nixpkgs-nats.nix).
# `checks` asserts in Nix — a failed assert fails the evaluation — and returns, per case, what
# test/nix/module-eval.test.ts compares with the TypeScript side. The `wrong*` attributes must
# fail to evaluate.
{
  # nixpkgs' lib/ (unpacked from shared/nix/nixpkgs-lib.tar.zst)
  libPath,
  # the module under test: the file, or the flake's nixosModules.default
  appliance ? ../../modules/appliance.nix,
  # where the TLS case's PEM files are (the test writes real ones there for nats-server -t)
  tlsDir ? "/run/keys",
  # the public nkeys of the role users, as JSON { role: "U…" } (the test passes those of a state
  # dir `cim` made; these are valid keys of seeds nobody kept)
  publicKeys ? builtins.toJSON {
    service = "UB7SZL7FYZLUQXNH5VRQUUABVADF2YE7SINLYHUGPCFHKP3O7UIS3A7T";
    gateway = "UDA3AK6EOPBFIKH66LBM7VAV4RM56Y6QYU5ZEXTCNICRQDBT334LM3L2";
    loadgen = "UBLUUQEFH7FC3CI5XE4RNLOGFYGKN3BOY5HZICNALXM4MA7CNPCPEWFF";
    auditor = "UCQ3MPKX5E4AFXZVV55PFTEMX6QN2NAGKOP5FKQIG2SM5HQQSAECAOWY";
    retention = "UBDAGSV7M5GZWVLY2IHIIUNGA5R6JKD5IYBK5FO7MWWIOK6O7PFGTJF6";
    operator = "UDPUGP5FJ5U3HVC3EVB65CKH6VXU4XBXFJ6IKJIAC5Z2GXYVI3FRPG24";
  },
  # for `live`: JSON [ { client, cluster, monitor } ], the free ports of a cluster on loopback that
  # test/nix/module-live.test.ts runs for real
  livePorts ? "[]",
}:

let
  lib = import libPath;

  inherit (import ./fake-pkgs.nix) package pkgs;
  keys = builtins.fromJSON publicKeys;

  eval =
    machine:
    lib.evalModules {
      modules = [
        ./nixos-stubs.nix
        ./nixpkgs-nats.nix
        appliance
        { _module.args.pkgs = pkgs; }
        machine
      ];
    };

  summarize =
    machine:
    let
      c = (eval machine).config;
    in
    {
      nats = if c.services.nats.enable then c.services.nats.settings else null;
      natsValidatedAtBuild = c.services.nats.validateConfig;
      settings = if c.services.cim-appliance.enable then c.services.cim-appliance.settings else null;
      services = c.systemd.services;
      timers = c.systemd.timers;
      firewall = c.networking.firewall.allowedTCPPorts;
      packages = map (p: p.name) c.environment.systemPackages;
      users = lib.attrNames c.users.users;
      groups = lib.attrNames c.users.groups;
      failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
      runtimeConfigScript = c.services.cim-appliance.nats.runtimeConfigScript;
    };

  failures = machine: (summarize machine).failedAssertions;

  # A machine without a NATS node of its own.
  bare = name: {
    networking.hostName = name;
    services.cim-appliance = {
      enable = true;
      inherit package;
    };
  };
  # One with a node, which lets in the role users only, and the seeds of the roles `cim` uses.
  base = name: {
    imports = [ (bare name) ];
    services.cim-appliance = {
      nats.users = lib.mapAttrs (_: publicKey: { inherit publicKey; }) keys;
      roleCredentials = seeds;
    };
  };
  # Every role's: the scheduled `cim comply` tries the access matrix as each.
  seeds = lib.genAttrs [
    "service"
    "gateway"
    "loadgen"
    "auditor"
    "retention"
    "operator"
  ] (role: "/run/keys/${role}.nk");

  hosts = {
    n1 = "127.0.0.1";
    n2 = "127.0.0.2";
    n3 = "127.0.0.3";
  };
  member = name: {
    imports = [ (base name) ];
    services.cim-appliance = {
      openFirewall = true;
      nats = {
        listen.host = hosts.${name};
        monitorHost = "0.0.0.0";
        clusterName = "east";
        openMonitorPort = true;
        routePasswordFile = "/run/keys/route-password";
        peers = map (peer: { host = hosts.${peer}; }) (lib.filter (peer: peer != name) (lib.attrNames hosts));
        tls = {
          certFile = "${tlsDir}/server.pem";
          keyFile = "${tlsDir}/server-key.pem";
          caFile = "${tlsDir}/ca.pem";
        };
      };
      apiKeysFile = "/run/keys/api-keys";
      signingKeyFile = "/run/keys/signing.key";
      httpListen = "0.0.0.0:8080";
      metricsListen = "127.0.0.1:9464";
      otlpEndpoint = "http://127.0.0.1:4318";
      domains.plugins = [ "/etc/cim/domains/invoice.js" ];
      report.schedule = "hourly";
    };
  };

  cases = {
    one = summarize {
      imports = [ (base "solo") ];
      services.cim-appliance.openFirewall = true;
    };
    three = lib.genAttrs (lib.attrNames hosts) (name: summarize (member name));
    sync = summarize {
      imports = [ (base "sync") ];
      services.cim-appliance.nats = {
        syncInterval = "always";
        storeDir = "/var/lib/cim-nats";
      };
    };
    attach = summarize {
      imports = [ (bare "attach") ];
      services.cim-appliance.nats = {
        enable = false;
        urls = [ "nats://10.0.0.9:4222" ];
        credentialsFile = "/run/keys/service.creds";
      };
      services.cim-appliance.openFirewall = true;
    };
    disabled = summarize {
      imports = [ (member "n1") ];
      services.cim-appliance.enable = lib.mkForce false;
    };
    retained = summarize {
      imports = [ (base "retained") ];
      services.cim-appliance.retention = {
        policies.person.maxAge = "365d";
        policies.workflow.maxEventsPerAggregate = 1000;
        applyEvery = "30m";
      };
      services.cim-appliance.roleCredentials.retention = "/run/keys/retention.nk";
    };
    emptyPolicy = failures {
      imports = [ (base "retained") ];
      services.cim-appliance.retention.policies.person = { };
      services.cim-appliance.roleCredentials.retention = "/run/keys/retention.nk";
    };
    # A report that is not comply (which needs every seed), so only retention's seed is missing.
    retentionWithoutSeed = failures {
      imports = [ (base "retained") ];
      services.cim-appliance.retention.policies.person.maxAge = "30d";
      services.cim-appliance.report.command = [
        "verify"
        "--json"
      ];
      services.cim-appliance.roleCredentials.retention = lib.mkForce null;
    };
    # Settings that contradict each other, each failing one assertion: only the messages (the rest
    # of such a machine, its NATS config say, need not evaluate: NixOS checks assertions first).
    noRoutePassword = failures {
      imports = [ (member "n1") ];
      services.cim-appliance.nats.routePasswordFile = lib.mkForce null;
    };
    missingKeys = failures {
      imports = [ (base "keys") ];
      services.cim-appliance.nats.users.loadgen.publicKey = lib.mkForce null;
      services.cim-appliance.nats.users.auditor.publicKey = lib.mkForce null;
    };
    missingSeeds = failures {
      imports = [ (bare "seeds") ];
      services.cim-appliance.nats.users = lib.mapAttrs (_: publicKey: { inherit publicKey; }) keys;
      services.cim-appliance.roleCredentials.service = "/run/keys/service.nk";
      services.cim-appliance.httpListen = "127.0.0.1:8080";
    };
    credsWithLocalNode = failures {
      imports = [ (bare "creds") ];
      services.cim-appliance.nats.users = lib.mapAttrs (_: publicKey: { inherit publicKey; }) keys;
      services.cim-appliance.nats.credentialsFile = "/run/keys/service.creds";
    };
    bothCredentials = failures {
      imports = [ (bare "both") ];
      services.cim-appliance.nats = {
        enable = false;
        urls = [ "nats://10.0.0.9:4222" ];
        credentialsFile = "/run/keys/service.creds";
      };
      services.cim-appliance.roleCredentials = seeds;
    };
    monitorOnLoopback = failures {
      imports = [ (member "n1") ];
      services.cim-appliance.nats.monitorHost = lib.mkForce "127.0.0.1";
    };
    halfTls = summarize {
      imports = [ (base "half") ];
      services.cim-appliance.nats.tls.certFile = "/run/keys/server.pem";
    };
  };

  check = cond: message: lib.assertMsg cond "eval-module.nix: ${message}";
  app = case: case.services.cim-appliance.serviceConfig;
  cim = "${package}/bin/cim --config /nix/store/00000000000000000000000000000000-cim-appliance.json";

  inherit (cases) one three attach disabled halfTls retained noRoutePassword;
  n1 = three.n1;
in
assert check ((app one).ExecStart == "${cim} serve") "the appliance runs `cim serve` with the generated config";
assert check (
  (app one).ProtectSystem == "strict"
  && (app one).NoNewPrivileges
  && (app one).CapabilityBoundingSet == ""
  && (app one).PrivateTmp
  && (app one).ProtectHome
  && (app one).StateDirectory == "cim-appliance"
  && (app one).User == "cim-appliance"
) "the appliance unit is hardened and owns its state directory";
assert check (one.services.cim-appliance.requires == [ "nats.service" ]) "the appliance requires the local NATS node";
assert check (
  one.timers.cim-appliance-report.timerConfig.OnCalendar == "daily"
  && one.timers.cim-appliance-report.timerConfig.Persistent
  && one.services.cim-appliance-report.serviceConfig.Type == "oneshot"
  && one.services.cim-appliance-report.serviceConfig.ExecStart == "${cim} comply"
) "a daily, persistent timer runs the report";
assert check (one.firewall == [ 4222 ]) "a single node opens its client port only";
assert check (!(one.nats ? cluster)) "a single node has no cluster block";
assert check (
  one.natsValidatedAtBuild && !n1.natsValidatedAtBuild
) "nixpkgs validates the config at build time unless it names TLS files, which only the machine has";
assert check (
  one.services.nats.serviceConfig.NoNewPrivileges
  && one.services.nats.serviceConfig.RestrictAddressFamilies == [
    "AF_INET"
    "AF_INET6"
  ]
) "the NATS unit gets hardening nixpkgs lacks, without duplicating what it sets";
assert check (n1.firewall == [
  4222
  6222
  8222
  8080
]) "a cluster member opens client, route, (when asked) monitor and HTTP ports";
assert check (lib.length n1.nats.cluster.routes == 2) "each member routes to the two others";
assert check (
  (app n1).ExecStart == "${cim} serve"
  && n1.services.cim-appliance.environment.CIM_NATS_USERS_DIR == "%d"
  && lib.length (app n1).LoadCredential == 8
  && (app n1).ExecStartPre
    == "/nix/store/00000000000000000000000000000000-coreutils/bin/install -D -m 0600 %d/signing-key /var/lib/cim-appliance/keys/signing.ed25519.key"
) "secrets reach the unit as systemd credentials; the shared signing key is installed before start";
assert check (n1.timers.cim-appliance-report.timerConfig.OnCalendar == "hourly") "the schedule is configurable";
assert check (
  !(attach.services ? nats) && attach.nats == null && attach.services.cim-appliance.requires == [ ] && attach.firewall == [ ]
) "without a local node, nothing of NATS is defined or opened";
assert check (
  disabled.services == { }
  && disabled.timers == { }
  && disabled.firewall == [ ]
  && disabled.users == [ ]
  && disabled.packages == [ ]
) "enable = false defines nothing";
assert check (halfTls.failedAssertions != [ ]) "a certificate without its key fails an assertion";
assert check (
  retained.failedAssertions == [ ]
  && retained.settings.retention == {
    policies = {
      person.maxAge = "365d";
      workflow.maxEventsPerAggregate = 1000;
    };
    applyEvery = "30m";
  }
) "retention policies reach the config file, null fields left out";
assert check (
  lib.length one.nats.authorization.users == 6 && !(one.nats ? no_auth_user) && one.nats.http == "127.0.0.1:8222"
) "a node lets in the six role users only, and monitors on loopback";
assert check (
  n1.services.nats.serviceConfig.LoadCredential == [ "route-password:/run/keys/route-password" ]
  && n1.services.nats.serviceConfig.ExecStart == "/nix/store/00000000000000000000000000000000-nats-server/bin/nats-server -c %t/nats/nats.conf"
  && n1.runtimeConfigScript != null
  && one.runtimeConfigScript == null
  && !(one.services.nats.serviceConfig ? LoadCredential)
) "a cluster member's NATS unit gets the route password as a credential and writes its config at start";
assert check (
  !(lib.hasInfix "route-password" (builtins.toJSON n1.nats)) && noRoutePassword != [ ]
) "the route password is not in the config built into the store, and a member without one fails an assertion";
assert check (n1.settings.http.listen == "0.0.0.0:8080" && !(one.settings ? http)) "httpListen turns the gateway on";
assert check (n1.settings.metrics.listen == "127.0.0.1:9464" && !(one.settings ? metrics)) "metricsListen serves /metrics";
{
  checks = cases;

  # Members of one cluster on 127.0.0.1, each on its own ports.
  live =
    let
      ports = builtins.fromJSON livePorts;
      indices = lib.range 1 (lib.length ports);
      at = i: lib.elemAt ports (i - 1);
    in
    lib.listToAttrs (
      map (
        i:
        lib.nameValuePair "live${toString i}" (summarize {
          imports = [ (base "live${toString i}") ];
          services.cim-appliance.nats = {
            listen.port = (at i).client;
            clusterPort = (at i).cluster;
            monitorPort = (at i).monitor;
            peers = map (j: {
              host = "127.0.0.1";
              clusterPort = (at j).cluster;
              clientPort = (at j).client;
            }) (lib.remove i indices);
            routePasswordFile = "/run/keys/route-password";
          };
        })
      ) indices
    );

  wrongPortType = (summarize {
    imports = [ (base "bad") ];
    services.cim-appliance.nats.listen.port = "4222";
  }).nats;

  wrongDuration = (summarize {
    imports = [ (base "bad") ];
    services.cim-appliance.nats.syncInterval = "10 seconds";
  }).nats;

  wrongListen = (summarize {
    imports = [ (base "bad") ];
    services.cim-appliance.httpListen = "8080";
  }).settings;

  wrongOtlp = (summarize {
    imports = [ (base "bad") ];
    services.cim-appliance.otlpEndpoint = "127.0.0.1:4318";
  }).services.cim-appliance.environment;

  wrongPeer = (summarize {
    imports = [ (base "bad") ];
    services.cim-appliance.nats.peers = [ "10.0.0.2:6222" ];
    services.cim-appliance.nats.routePasswordFile = "/run/keys/route-password";
  }).nats;

  # A seed where the public key belongs.
  wrongPublicKey = (summarize {
    imports = [ (base "bad") ];
    services.cim-appliance.nats.users.service.publicKey = lib.mkForce "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4";
  }).nats;

  # A Nix path would be copied into the world-readable store.
  wrongSecretPath = (summarize {
    imports = [ (base "bad") ];
    services.cim-appliance.roleCredentials.service = lib.mkForce /run/keys/service.nk;
  }).services.cim-appliance.serviceConfig;

  wrongRetention = (summarize {
    imports = [ (base "bad") ];
    services.cim-appliance.retention.policies.person.maxAge = "soon";
  }).settings;

  wrongRole = (summarize {
    imports = [ (base "bad") ];
    services.cim-appliance.roleCredentials.admin = "/run/keys/admin.nk";
  }).services.cim-appliance.serviceConfig;
}
