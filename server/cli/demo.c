/*
 * The demo topology: three providers, four reviewer roles, a failback chain that crosses
 * providers, a model served by a provider its id does not name, and one tenant that is kept
 * off a provider. Small enough to read, rich enough to show every rule of the pipeline.
 */
#include "demo.h"

const char sb_demo_topology[] =
    "{\n"
    "  \"providers\": {\n"
    "    \"anthropic\": {\"enabled\": true, \"description\": \"Anthropic API\"},\n"
    "    \"openai\": {\"enabled\": true, \"description\": \"OpenAI API\"},\n"
    "    \"workers-ai\": {\"enabled\": true, \"description\": \"Cloudflare Workers AI\"}\n"
    "  },\n"
    "  \"roles\": {\n"
    "    \"security\": {\"primary\": \"anthropic/claude-opus-4-7\",\n"
    "                 \"description\": \"security review; follows the failback chain\"},\n"
    "    \"performance\": {\"primary\": \"openai/gpt-5.3-codex\",\n"
    "                    \"fallbacks\": [\"anthropic/claude-opus-4-7\", \"kimi-k2.5\"],\n"
    "                    \"description\": \"performance review\"},\n"
    "    \"documentation\": {\"primary\": \"kimi-k2.5\",\n"
    "                      \"fallbacks\": [\"anthropic/claude-sonnet-4-6\"],\n"
    "                      \"description\": \"documentation review\"},\n"
    "    \"architecture\": {\"primary\": \"anthropic/claude-opus-4-6\",\n"
    "                     \"description\": \"architecture review\"}\n"
    "  },\n"
    "  \"failback\": {\n"
    "    \"anthropic/claude-opus-4-7\": {\"next\": \"anthropic/claude-opus-4-6\"},\n"
    "    \"anthropic/claude-opus-4-6\": {\"next\": \"openai/gpt-5.3-codex\"},\n"
    "    \"openai/gpt-5.3-codex\": {\"next\": \"kimi-k2.5\"},\n"
    "    \"kimi-k2.5\": {\"next\": null}\n"
    "  },\n"
    "  \"models\": {\n"
    "    \"kimi-k2.5\": {\"provider\": \"workers-ai\",\n"
    "                  \"description\": \"workers-ai/@cf/moonshotai/kimi-k2.5\"}\n"
    "  },\n"
    "  \"tenants\": {\n"
    "    \"acme\": {\"providers\": {\"openai\": {\"enabled\": false}},\n"
    "             \"description\": \"acme's contract excludes OpenAI\"}\n"
    "  }\n"
    "}\n";
