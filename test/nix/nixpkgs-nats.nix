# Stand-in for nixpkgs' nixos/modules/services/networking/nats.nix: its options, and the settings
# and unit it derives from them. Releases differ in whether they have a `host` option feeding
# settings.host; this one has it, the harder case for modules/appliance.nix (which overrides it),
# and the newer validateConfig.
{ config, lib, ... }:

let
  inherit (lib) mkOption types;
  cfg = config.services.nats;
  # pkgs.formats.json's type.
  jsonValue =
    types.nullOr (
      types.oneOf [
        types.bool
        types.int
        types.float
        types.str
        types.path
        (types.attrsOf jsonValue)
        (types.listOf jsonValue)
      ]
    )
    // {
      description = "JSON value";
    };
in
{
  options.services.nats = {
    enable = lib.mkEnableOption "NATS messaging system";
    serverName = mkOption {
      type = types.str;
      default = "nats";
    };
    jetstream = lib.mkEnableOption "JetStream";
    host = mkOption {
      type = types.str;
      default = "127.0.0.1";
    };
    port = mkOption {
      type = types.port;
      default = 4222;
    };
    dataDir = mkOption {
      type = types.path;
      default = "/var/lib/nats";
    };
    settings = mkOption {
      type = jsonValue;
      default = { };
    };
    # Newer releases check the rendered config with `nats-server -t` at build time.
    validateConfig = mkOption {
      type = types.bool;
      default = true;
    };
  };

  config = lib.mkIf cfg.enable {
    services.nats.settings = {
      server_name = cfg.serverName;
      host = cfg.host;
      port = cfg.port;
      jetstream = lib.optionalAttrs cfg.jetstream { store_dir = cfg.dataDir; };
    };
    systemd.services.nats = {
      description = "NATS messaging system";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      serviceConfig = lib.mkMerge [
        (lib.mkIf (cfg.dataDir == "/var/lib/nats") {
          StateDirectory = "nats";
          StateDirectoryMode = "0750";
        })
        {
          Type = "simple";
          ExecStart = "/nix/store/00000000000000000000000000000000-nats-server/bin/nats-server -c /nix/store/00000000000000000000000000000000-nats.conf";
          Restart = "on-failure";
          User = "nats";
          Group = "nats";
          PrivateTmp = true;
          ProtectSystem = "strict";
          ReadWritePaths = [ cfg.dataDir ];
          RestrictAddressFamilies = [
            "AF_INET"
            "AF_INET6"
          ];
        }
      ];
    };
    users.users.nats = {
      isSystemUser = true;
      group = "nats";
      home = cfg.dataDir;
    };
    users.groups.nats = { };
  };
}
