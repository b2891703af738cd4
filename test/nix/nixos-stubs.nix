# Stand-in declarations of the NixOS options modules/appliance.nix sets, for evaluating it with
# nixpkgs' real lib.evalModules where no nixpkgs checkout exists. Types follow NixOS where merging
# matters (systemd unit options, lists, attribute sets); the rest is freeform.
{ lib, ... }:

let
  inherit (lib) mkOption types;

  # As unitOption in nixos/lib/systemd-unit-options.nix: lists concatenate, other values must agree.
  unitOption = types.mkOptionType {
    name = "systemd option";
    merge =
      loc: defs:
      let
        defs' = lib.filterOverrides defs;
      in
      if lib.any (def: lib.isList def.value) defs' then
        lib.concatMap (def: lib.toList def.value) defs'
      else
        lib.mergeEqualOption loc defs';
  };

  strings = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };

  unit = extra: types.submodule {
    freeformType = types.attrsOf types.anything;
    options = {
      description = mkOption {
        type = types.str;
        default = "";
      };
      wantedBy = strings;
    } // extra;
  };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = strings;

    networking.hostName = mkOption {
      type = types.str;
      default = "nixos";
    };
    networking.firewall.allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };

    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };

    users.users = mkOption {
      type = types.attrsOf (types.submodule { freeformType = types.attrsOf types.anything; });
      default = { };
    };
    users.groups = mkOption {
      type = types.attrsOf (types.submodule { freeformType = types.attrsOf types.anything; });
      default = { };
    };

    systemd.services = mkOption {
      type = types.attrsOf (unit {
        wants = strings;
        after = strings;
        requires = strings;
        environment = mkOption {
          type = types.attrsOf types.str;
          default = { };
        };
        serviceConfig = mkOption {
          type = types.attrsOf unitOption;
          default = { };
        };
      });
      default = { };
    };
    systemd.timers = mkOption {
      type = types.attrsOf (unit {
        timerConfig = mkOption {
          type = types.attrsOf unitOption;
          default = { };
        };
      });
      default = { };
    };
  };
}
