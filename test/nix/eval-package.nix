# Evaluates nix/package.nix with stand-ins for the nixpkgs builders it calls (buildNpmPackage,
# importNpmLock) and returns what it hands them, for test/nix/flake.test.ts. (`src` is left
# alone: lib.fileset needs Nix 2.14 or later, and Debian's nix-bin is 2.8.)
{
  libPath,
  packageFile,
}:

let
  lib = import libPath;

  stub = name: {
    inherit name;
    type = "derivation";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };

  importNpmLock = {
    __functor = _: args: args;
    npmConfigHook.override = args: "npm-config-hook for ${args.nodejs.name}";
  };

  package = import packageFile {
    inherit lib importNpmLock;
    buildNpmPackage = args: args;
    nodejs_22 = stub "nodejs-22.21.1";
    nats-server = stub "nats-server-2.11.9" // { meta.mainProgram = "nats-server"; };
  };
in
{
  inherit (package)
    pname
    version
    env
    npmPackFlags
    makeWrapperArgs
    npmConfigHook
    ;
  nodejs = package.nodejs.name;
  npmDepsPackageName = package.npmDeps.package.name;
  resolved = lib.mapAttrs (_: module: module.resolved or null) package.npmDeps.packageLock.packages;
}
