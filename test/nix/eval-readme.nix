# Evaluates the README's three-machine deployment flake: its `outputs` called with nixpkgs' lib
# (nixosSystem: lib.evalModules over the stand-in NixOS options) and this repository's module as
# the cim-appliance input. Returns each machine's NATS config and appliance settings.
{
  libPath,
  # the README's flake.nix, written beside empty hardware/<name>.nix files
  example,
  appliance ? ../../modules/appliance.nix,
}:

let
  lib = import libPath;
  fake = import ./fake-pkgs.nix;

  nixosSystem =
    { system, modules }:
    lib.evalModules {
      modules = [
        ./nixos-stubs.nix
        ./nixpkgs-nats.nix
        {
          _module.args.pkgs = fake.pkgs;
          # The flake's nixosModules.default sets this from its own packages.
          services.cim-appliance.package = lib.mkDefault fake.package;
        }
      ] ++ modules;
    };

  outputs = (import example).outputs {
    nixpkgs.lib = lib // { inherit nixosSystem; };
    cim-appliance.nixosModules.default = appliance;
  };
in
lib.mapAttrs (
  _: system:
  let
    c = system.config;
  in
  {
    nats = c.services.nats.settings;
    settings = c.services.cim-appliance.settings;
    firewall = c.networking.firewall.allowedTCPPorts;
    loadCredential = c.systemd.services.cim-appliance.serviceConfig.LoadCredential;
    natsLoadCredential = c.systemd.services.nats.serviceConfig.LoadCredential;
    runtimeConfigScript = c.services.cim-appliance.nats.runtimeConfigScript;
    failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
  }
) outputs.nixosConfigurations
