# NixOS VM test (pkgs.testers.runNixOSTest): three machines import nixosModules.default and form
# one NATS JetStream cluster; the appliance runs on each; a quick benchmark runs against the
# cluster and everything it appended verifies, and the scheduled report passes.
# When `cim comply` exists, the report unit runs it (report.command).
{ self }:
{ lib, ... }:

let
  names = [
    "n1"
    "n2"
    "n3"
  ];
  urls = lib.concatMapStringsSep "," (n: "nats://${n}:4222") names;
  appliancePub = "/var/lib/cim-appliance/keys/signing.ed25519.pub";
in
{
  name = "cim-appliance-cluster";

  defaults =
    { config, pkgs, ... }:
    {
      imports = [ self.nixosModules.default ];
      virtualisation.memorySize = 2048;
      virtualisation.cores = 2;
      environment.systemPackages = [
        config.services.cim-appliance.package
        pkgs.curl
        pkgs.jq
      ];
      services.cim-appliance = {
        enable = true;
        openFirewall = true;
        nats = {
          listen.host = "0.0.0.0";
          serverName = config.networking.hostName;
          peers = map (host: { inherit host; }) (lib.remove config.networking.hostName names);
        };
        # One key for the deployment, so each machine's report trusts every machine's seals.
        signingKeyFile = "${pkgs.runCommand "cim-test-signing-key" { } "${pkgs.openssl}/bin/openssl genpkey -algorithm ed25519 -out $out"}";
      };
    };

  nodes = lib.genAttrs names (_: { });

  testScript = ''
    machines = [n1, n2, n3]
    start_all()

    with subtest("the NATS cluster forms"):
        for m in machines:
            m.wait_for_unit("nats.service")
            m.wait_for_open_port(4222)
            # nats-server ≥ 2.10 pools several connections per peer: count peers, not connections.
            m.wait_until_succeeds("curl -sf http://127.0.0.1:8222/routez | jq -e '[.routes[].remote_id] | unique | length == 2'", timeout=120)
        n1.wait_until_succeeds("curl -sf http://127.0.0.1:8222/jsz | jq -e '.meta_cluster.cluster_size == 3 and .meta_cluster.leader != null'", timeout=120)

    with subtest("the appliance runs on every machine"):
        for m in machines:
            m.wait_for_unit("cim-appliance.service")
        n1.wait_until_succeeds("cim --nats ${urls} --state /tmp/probe cluster status --json | jq -e '.servers | length == 3'", timeout=60)

    with subtest("the scheduled report runs and passes"):
        # What the three appliances wrote and sealed, with the deployment's one key.
        for m in machines:
            m.succeed("systemctl start cim-appliance-report.service")
            m.succeed("systemctl show -p Result --value cim-appliance-report.service | grep -x success")
        n1.succeed("systemctl list-timers cim-appliance-report.timer | grep cim-appliance-report")

    with subtest("the quick bench suite runs on the cluster and its signed report verifies"):
        # Attached to a cluster it did not start, the bench skips the scenarios that kill nodes.
        # The deployment's appliances seal the same streams with their key: verification trusts it too.
        n1.succeed("cim --nats ${urls} --state /tmp/bench bench --quick --baseline-messages 2000 --key ${appliancePub} --out /tmp/bench.json")
        n1.succeed("jq -e '[.scenarios[] | select(.status != \"skipped\")] | length >= 2 and all(.status == \"passed\")' /tmp/bench.json")
        n1.succeed("cim --state /tmp/bench report verify latest")
        n1.succeed("cim --nats ${urls} --state /tmp/bench verify --key ${appliancePub} --json | jq -e '.ok'")

    with subtest("the units are hardened"):
        for unit in ["cim-appliance.service", "nats.service"]:
            n1.succeed(f"systemctl show -p ProtectSystem --value {unit} | grep -x strict")
            n1.succeed(f"systemctl show -p NoNewPrivileges --value {unit} | grep -x yes")
  '';
}
