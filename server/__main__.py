from server.cli import main

main(prog_name="assetgate")
