# NixOS VM test (pkgs.testers.runNixOSTest): three machines import nixosModules.default and form
# one NATS JetStream cluster whose routes authenticate and which lets in the role users only; the
# appliance runs on each; a quick benchmark runs against the cluster and everything it appended
# verifies, and the scheduled report (`cim comply`, report.command's default) passes.
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
  # The NATS users of the test deployment: seeds and route secret made for this test alone
  # (`cim --state DIR nats-config` made them), installed outside the store as a secrets tool would.
  testUsers = ./vm-test-users;
  usersDir = "/etc/cim-test/nats-users";
  publicKeys = lib.importJSON ./vm-test-users/public-keys.json;
  # Root's `cim` on the machines connects as each verb's role with these seeds.
  asRoles = "CIM_NATS_USERS_DIR=${usersDir}";
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
      environment.etc = lib.listToAttrs (
        map (file: {
          name = "cim-test/nats-users/${file}";
          value = {
            source = "${testUsers}/${file}";
            mode = "0400";
          };
        }) ([ "route.secret" ] ++ map (role: "${role}.nk") (lib.attrNames publicKeys))
      );
      services.cim-appliance = {
        enable = true;
        openFirewall = true;
        nats = {
          listen.host = "0.0.0.0";
          serverName = config.networking.hostName;
          peers = map (host: { inherit host; }) (lib.remove config.networking.hostName names);
          users = lib.mapAttrs (_: publicKey: { inherit publicKey; }) publicKeys;
          routePasswordFile = "${usersDir}/route.secret";
          # comply's durability check fails the server default (writes acknowledged up to two
          # minutes before they reach disk).
          syncInterval = "always";
        };
        # Every role's: the scheduled `cim comply` tries the access matrix as each.
        roleCredentials = lib.genAttrs [
          "service"
          "gateway"
          "loadgen"
          "auditor"
          "retention"
          "operator"
        ] (role: "${usersDir}/${role}.nk");
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

    with subtest("the nodes let in the role users only, and monitor on loopback only"):
        n1.fail("cim --nats nats://n2:4222 --state /tmp/anonymous cluster status --json")
        n1.fail("curl -sf --max-time 5 http://n2:8222/varz")
        # The config with the route password lies in the unit's runtime directory, not in the store.
        n1.succeed("stat -c %a /run/nats/nats.conf | grep -x 600")
        n1.succeed("grep -l CIM_ROUTE_PASSWORD_FROM_CREDENTIAL /nix/store/*-nats-template.json")
        n1.fail("grep -l \"$(cat ${usersDir}/route.secret)\" /nix/store/*-nats-template.json")
        n1.succeed("grep -l \"$(cat ${usersDir}/route.secret)\" /run/nats/nats.conf")

    with subtest("the appliance runs on every machine"):
        for m in machines:
            m.wait_for_unit("cim-appliance.service")
        n1.wait_until_succeeds("${asRoles} cim --nats ${urls} --state /tmp/probe cluster status --json | jq -e '.servers | length == 3'", timeout=60)

    with subtest("the scheduled report runs and passes"):
        # What the three appliances wrote and sealed, with the deployment's one key.
        for m in machines:
            m.succeed("systemctl start cim-appliance-report.service")
            m.succeed("systemctl show -p Result --value cim-appliance-report.service | grep -x success")
        n1.succeed("systemctl list-timers cim-appliance-report.timer | grep cim-appliance-report")

    with subtest("the quick bench suite runs on the cluster and its signed report verifies"):
        # Attached to a cluster it did not start, the bench skips the scenarios that kill nodes.
        # The deployment's appliances seal the same streams with their key: verification trusts it too.
        n1.succeed("${asRoles} cim --nats ${urls} --state /tmp/bench bench --quick --baseline-messages 2000 --key ${appliancePub} --out /tmp/bench.json")
        n1.succeed("jq -e '[.scenarios[] | select(.status != \"skipped\")] | length >= 2 and all(.status == \"passed\")' /tmp/bench.json")
        n1.succeed("cim --state /tmp/bench report verify latest")
        n1.succeed("${asRoles} cim --nats ${urls} --state /tmp/bench verify --key ${appliancePub} --json | jq -e '.ok'")

    with subtest("the units are hardened"):
        for unit in ["cim-appliance.service", "nats.service"]:
            n1.succeed(f"systemctl show -p ProtectSystem --value {unit} | grep -x strict")
            n1.succeed(f"systemctl show -p NoNewPrivileges --value {unit} | grep -x yes")
  '';
}
