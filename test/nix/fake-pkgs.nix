# What the module takes from pkgs, and a stand-in for the appliance package: enough for
# lib.evalModules, where no nixpkgs exists. Nothing here is built.
{
  package = {
    type = "derivation";
    name = "cim-appliance-0.1.0";
    outPath = "/nix/store/00000000000000000000000000000000-cim-appliance-0.1.0";
  };
  pkgs = {
    writeText = name: _text: "/nix/store/00000000000000000000000000000000-${name}";
    writeShellScript = name: _text: "/nix/store/00000000000000000000000000000000-${name}";
    coreutils = "/nix/store/00000000000000000000000000000000-coreutils";
    jq = "/nix/store/00000000000000000000000000000000-jq";
    nats-server = "/nix/store/00000000000000000000000000000000-nats-server";
  };
}
