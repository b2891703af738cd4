# Evaluates the NixOS module with nixpkgs' real lib.evalModules against stand-ins of the NixOS
# options it sets (./nixos-stubs.nix) and of nixpkgs' services.nats (./nixpkgs-nats.nix).
# `checks` asserts in Nix — a failed assert fails the evaluation — and returns, per case, what
# test/nix/module-eval.test.ts compares with the TypeScript side. `wrongPortType`,
# `wrongDuration` and `wrongPeer` must fail to evaluate.
{
  # nixpkgs' lib/ (unpacked from shared/nix/nixpkgs-lib.tar.zst)
  libPath,
  # the module under test: the file, or the flake's nixosModules.default
  appliance ? ../../modules/appliance.nix,
  # where the TLS case's PEM files are (the test writes real ones there for nats-server -t)
  tlsDir ? "/run/keys",
}:

let
  lib = import libPath;

  inherit (import ./fake-pkgs.nix) package pkgs;

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
    };

  base = name: {
    networking.hostName = name;
    services.cim-appliance = {
      enable = true;
      inherit package;
    };
  };

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
        clusterName = "east";
        openMonitorPort = true;
        peers = map (peer: { host = hosts.${peer}; }) (lib.filter (peer: peer != name) (lib.attrNames hosts));
        tls = {
          certFile = "${tlsDir}/server.pem";
          keyFile = "${tlsDir}/server-key.pem";
          caFile = "${tlsDir}/ca.pem";
        };
        credentialsFile = "/run/keys/service.creds";
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
      imports = [ (base "attach") ];
      services.cim-appliance.nats = {
        enable = false;
        urls = [ "nats://10.0.0.9:4222" ];
      };
      services.cim-appliance.openFirewall = true;
    };
    disabled = summarize {
      imports = [ (member "n1") ];
      services.cim-appliance.enable = lib.mkForce false;
    };
    removed = summarize {
      imports = [ (base "removed") ];
      services.cim-appliance.retention.person.maxAge = "8760h";
      services.cim-appliance.roleCredentials.auditor = "/run/keys/auditor.creds";
    };
    halfTls = summarize {
      imports = [ (base "half") ];
      services.cim-appliance.nats.tls.certFile = "/run/keys/server.pem";
    };
  };

  check = cond: message: lib.assertMsg cond "eval-module.nix: ${message}";
  app = case: case.services.cim-appliance.serviceConfig;
  cim = "${package}/bin/cim --config /nix/store/00000000000000000000000000000000-cim-appliance.json";

  inherit (cases) one three attach disabled halfTls removed;
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
  && one.services.cim-appliance-report.serviceConfig.ExecStart == "${cim} verify --json"
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
  (app n1).ExecStart == "${cim} --creds %d/nats.creds serve"
  && lib.length (app n1).LoadCredential == 3
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
  lib.length removed.failedAssertions == 2
) "retention and roleCredentials, which this version does not implement, fail evaluation when set";
assert check (n1.settings.http.listen == "0.0.0.0:8080" && !(one.settings ? http)) "httpListen turns the gateway on";
assert check (n1.settings.metrics.listen == "127.0.0.1:9464" && !(one.settings ? metrics)) "metricsListen serves /metrics";
{
  checks = cases;

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
  }).nats;
}
