{
  description = "CIM Appliance: benchmarks and audits event-sourced services on NATS JetStream";

  # A release branch, so the first lock is predictable; `nix flake update` moves it within the release.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nix/package.nix { };
      });

      apps = forAllSystems (
        pkgs:
        let
          cim = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        in
        {
          default = {
            type = "app";
            program = lib.getExe cim;
            meta.description = "cim, the appliance's command line";
          };
          bench = {
            type = "app";
            program = "${pkgs.writeShellScript "cim-bench" ''exec ${lib.getExe cim} bench "$@"''}";
            meta.description = "cim bench on an embedded 3-node NATS JetStream cluster";
          };
        }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs_22
            pkgs.nats-server
            pkgs.natscli
            pkgs.sqlite
            # node-gyp, for better-sqlite3 when no prebuilt binary fits
            pkgs.python3
          ];
        };
      });

      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        cluster = pkgs.testers.runNixOSTest (import ./nix/vm-test.nix { inherit self; });
      });

      # The module, with this flake's package as the default of services.cim-appliance.package.
      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./modules/appliance.nix ];
          services.cim-appliance.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };

      overlays.default = final: _prev: {
        cim-appliance = final.callPackage ./nix/package.nix { };
      };
    };
}
