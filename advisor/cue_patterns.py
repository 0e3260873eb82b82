"""The cue detector's rule table: one regular expression per way of stating a Profile value, with its polarity.

Rules are tried in table order and a match claims its words for its field, so a specific rule listed first
("we don't care about lock-in") keeps a general one ("lock-in") off the same words. `rank` orders the cues that
survive for a field (lower wins); see advisor.cues for negation and the other context checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["RULES", "Rule"]


@dataclass(frozen=True)
class Rule:
    """One way of stating a value: the field, the value, the pattern, and how negation and context apply."""

    field: str
    value: Any
    name: str
    pattern: re.Pattern[str]
    rank: float
    negated: Any  # the value a negated cue yields; None drops it
    negated_rank: float
    negatable: bool
    requires: re.Pattern[str] | None  # must occur in the same sentence
    forbids: re.Pattern[str] | None  # must not occur in the same sentence
    hypothetical_drops: bool  # "hire ML engineers", "want to pre-train": not the team's skills
    soft_drops: bool  # "we'd prefer state-of-the-art": a wish, not a bar


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _rule(field: str, value: Any, name: str, pattern: str, *, rank: float, negated: Any = None,
          negated_rank: float | None = None, negatable: bool = True, requires: str | None = None,
          forbids: str | None = None, hypothetical_drops: bool = False, soft_drops: bool = False) -> Rule:
    return Rule(field, value, name, _re(pattern), rank, negated, rank + 0.5 if negated_rank is None else negated_rank,
                 negatable, _re(requires) if requires else None, _re(forbids) if forbids else None,
                 hypothetical_drops, soft_drops)


_DEVICE = (r"\b(?:apps?|phones?|smartphones?|mobile|devices?|laptops?|tablets?|cars?|vehicles?|smartwatch(?:es)?|"
           r"headsets?|drones?|robots?|embedded|browsers?|client|kiosks?|handsets?|handheld|scanners?|wearables?|"
           r"trucks?|tractors?)\b")
_OFFLINE = (r"\boffline\b(?!\s+(?:batch|processing|jobs?|evaluation|eval|analysis|analytics))|"
            r"\bno\s+(?:internet|network|external|outside)\s*(?:access|connection|connectivity)?\b|"
            r"\bwithout\s+(?:an?\s+|any\s+)?(?:internet|network\s+access|connectivity)\b|\bno\s+connectivity\b")
_WEAK_SIGNAL = (r"\bno\s+(?:signal|reception|coverage|wi-?fi)\b|\bout\s+of\s+(?:range|reach)\s+of\s+(?:any\s+)?"
                r"(?:network|signal|connectivity|internet|wi-?fi)\b|\bconnectivity\s+is\s+(?:patchy|spotty|unreliable|"
                r"intermittent|poor|limited)\b|\b(?:patchy|spotty|unreliable|intermittent|poor)\s+(?:connectivity|"
                r"internet|network|signal|coverage)\b")
_DATA_PLACE = (r"(?:premises|network|building|servers?|infrastructure|data\s*cent(?:er|re)s?|country|eu|firewall|"
               r"third[\s-]part(?:y|ies)(?:\s+(?:\w+\s+)?(?:services?|providers?|apis?|vendors?|tools?))?|"
               r"(?:external|outside)\s+(?:\w+\s+)?(?:providers?|apis?|vendors?|services?|servers?|companies|parties)|"
               r"cloud|vendors?|providers?)")
_OWN_PLACE = (r"(?:premises|data\s*cent(?:er|re)s?|servers?|building|infrastructure|racks?|hospital|clinic|bank|"
              r"firm|company|site|facility|campus|office)")
_CLOUDS = r"(?:aws|amazon\s+web\s+services|gcp|google\s+cloud(?:\s+platform)?|azure|oracle\s+cloud|ibm\s+cloud)"
_LLM_NAMES = r"(?:openai|chatgpt|gpt[\w.-]*|llms?|claude|anthropic|gemini|mistral|hugging\s*face|langchain)"

RULES: tuple[Rule, ...] = (
    # --- data_sensitivity ----------------------------------------------------------------------------------------
    _rule("data_sensitivity", "regulated", "regulation_name",
          r"\b(?:phi|pii|hipaa|gdpr|ccpa|pci(?:[\s-]dss)?|ferpa|glba)\b|\bpersonally\s+identifiable\b|"
          r"\bprotected\s+health\s+information\b", rank=0),
    _rule("data_sensitivity", "regulated", "patient_or_health_records",
          r"\bpatients?'?\s+(?:medical\s+|health\s+)?(?:records?|data|information|notes|files|charts|histories|"
          r"details|scans|documents|reports|images|x-rays)\b|\b(?:medical|health|clinical|healthcare)\s+(?:records?|data|information|notes|histories|"
          r"files|charts)\b|\b(?:ehr|emr)s?\b", rank=0),
    _rule("data_sensitivity", "regulated", "personal_data",
          r"\bpersonal\s+(?:data|information|details)\b|\bcustomer\s+pii\b|\bssns?\b|\bsocial\s+security\s+numbers?\b|"
          r"\b(?:passport|national\s+id|driver's\s+licen[cs]e)\s+numbers?\b|\bdates?\s+of\s+birth\b", rank=0),
    _rule("data_sensitivity", "regulated", "financial_data",
          r"\b(?:financial|bank(?:ing)?|account|transaction|payment|credit|salary|payroll|tax)\s+(?:account\s+)?"
          r"(?:data|records|details|information)\b|\bcard\s*(?:holder\s+)?data\b|\bcredit\s+card\s+(?:numbers|data|"
          r"details)\b|\bcardholder\b", rank=0),
    _rule("data_sensitivity", "regulated", "classified",
          r"\bclassified\s+(?:network|data|information|documents|material|environment|systems?|intelligence)\b|"
          r"\btop[\s-]secret\b|\bsecurity\s+clearance\b|\b(?:defen[cs]e|state)\s+secrets?\b", rank=0),
    _rule("data_sensitivity", "regulated", "regulated_word",
          r"\bregulated\s+(?:data|industry|information|sector|environment)\b|\b(?:highly|heavily|strictly)\s+"
          r"regulated\b|\b(?:data|it|information)\s+(?:is|are)\s+regulated\b", rank=0),
    _rule("data_sensitivity", "regulated", "must_stay_in_house",
          r"\b(?:must|has\s+to|have\s+to|needs?\s+to|should|is\s+required\s+to|are\s+required\s+to)\s+(?:\w+\s+)?"
          r"(?:stay|remain|be\s+kept|be\s+stored|be\s+processed|live)\s+(?:\w+\s+)?(?:on|in|within|inside|at)\s+"
          r"(?:our|the\s+company's)\s+(?:own\s+)?(?:[\w-]+\s+)?(?:servers?|infrastructure|data\s*cent(?:er|re)s?|premises|network|"
          r"hardware|racks?|building|country|jurisdiction|region)\b", rank=0),
    _rule("data_sensitivity", "regulated", "cannot_leave",
          r"\b(?:can't|cannot|can\s+not|mustn't|must\s+not|may\s+not|shouldn't|should\s+not|won't|will\s+not|"
          r"(?:is|are)\s+not\s+allowed\s+to|never)\s+(?:be\s+(?:sent|moved|uploaded|shared|transferred|exposed|"
          r"processed)\s+(?:to|outside(?:\s+of)?|off|out\s+of|with|by)|leave|touch(?:es)?|go\s+(?:to|outside(?:\s+of)?|"
          r"off|out\s+of|beyond)|cross)\s+(?:(?:our|the|a|an|any|its|their)\s+)?(?:own\s+)?" + _DATA_PLACE + r"\b",
          rank=0, negatable=False),
    _rule("data_sensitivity", "regulated", "kept_inside",
          r"\b(?:outside|out\s+of|off|beyond)\s+(?:of\s+)?(?:our|its|their|the)\s+(?:own\s+)?(?:[\w-]+\s+)?(?:network|"
          r"premises|data\s*cent(?:er|re)s?|servers?|building|infrastructure|firewall|walls)\b", rank=0,
          negatable=False, requires=r"\b(?:not|never|no|nothing|cannot|must|only)\b|n't\b"),
    _rule("data_sensitivity", "regulated", "stays_inside",
          r"\b(?:nothing|no\s+data|none\s+of\s+(?:it|the\s+data))\s+(?:\w+\s+)?(?:goes|leaves|can\s+go|may\s+go|is\s+sent)\s+"
          r"(?:outside|out\s+of|off)\s+(?:(?:the|our)\s+)?(?:own\s+)?" + _OWN_PLACE + r"\b", rank=0, negatable=False),
    _rule("data_sensitivity", "internal", "internal_documents",
          r"\binternal\s+(?:[\w-]+\s+)?(?:documents?|docs|documentation|wiki|knowledge\s*base|policies|data|"
          r"articles|reports|e-?mails|files|handbook|memos|notes|tickets|code(?:base)?|repos(?:itories)?|"
          r"communications)\b|\b(?:company|corporate)\s+(?:wiki|handbook|intranet|documents|docs|documentation|"
          r"policies|knowledge\s*base)\b|\bintranet\b", rank=1),
    _rule("data_sensitivity", "internal", "confidential", r"\bconfidential\b", rank=1),
    _rule("data_sensitivity", "public", "public_data",
          r"\bpublic(?:ly)?[\s-](?:available\s+)?(?:[\w-]+\s+)?(?:data|datasets?|documents?|reviews|web\s*pages?|"
          r"websites?|information|records|filings|texts?|sources|content|posts|articles|papers|code|repositories)\b|"
          r"\bopen\s+(?:data(?:sets?)?|datasets?|government\s+data|access\s+(?:papers|articles|literature))\b|"
          r"\bpublished\s+(?:[\w-]+\s+){0,2}?(?:documents?|papers?|literature|articles|decisions|filings|reports|"
          r"abstracts|books|standards|regulations|laws|case\s+law|judg(?:e)?ments|rulings|patents)\b", rank=2),
    # --- deployment ----------------------------------------------------------------------------------------------
    _rule("deployment", "air_gapped", "air_gapped",
          r"\bair[\s-]?gap(?:ped|ping)?\b|\bclassified\s+(?:network|environment|systems?)\b|\b(?:isolated|"
          r"disconnected|offline|closed|segregated)\s+(?:network|environment|enclave|facility|site)\b|\b(?:completely|"
          r"fully|totally|physically)\s+(?:disconnected|isolated|cut\s+off)\s+from\s+(?:the\s+)?(?:internet|outside\s+"
          r"world|any\s+network)\b|\b(?:disconnected|isolated|cut\s+off|separated)\s+from\s+(?:the\s+)?(?:internet|external\s+"
          r"networks?|outside\s+networks?|any\s+(?:external\s+)?network|public\s+networks?)\b|\bscif\b", rank=0),
    _rule("deployment", "edge", "phone",
          r"\bon\s+(?:(?:the|a|their|its|our|each|every|your)\s+)?(?:(?:users?|customers?|people|clients?)'s?\s+)?"
          r"(?:own\s+)?(?:[\w-]+\s+)?(?:phones?|smartphones?|mobiles?|handsets?)\b", rank=1,
          forbids=r"\b(?:call\w*|talk\w*|speak\w*|agents?|hotline)\b"),
    _rule("deployment", "edge", "on_device",
          r"\bon[\s-]device\b|\bon\s+(?:(?:the|a|their|its|our|each|every|your)\s+)?(?:(?:users?|customers?|people|"
          r"drivers?|clients?)'s?\s+)?(?:own\s+)?(?:[\w-]+\s+)?(?:devices?|laptops?|tablets?|smartwatch(?:es)?|headsets?|"
          r"wearables?|cars?|vehicles?|drones?|robots?|microcontrollers?|raspberry\s+pis?)\b|\b(?:in|inside)\s+(?:the|"
          r"a|our|their|each|every)\s+(?:car|vehicle|truck|cockpit|dashboard)s?\b(?!\s+(?:industry|market|sector))|"
          r"\bon\s+(?:the\s+|each\s+|every\s+)?(?:developer|user|customer|employee|engineer)s?'s?\s+(?:own\s+)?(?:machines?|"
          r"computers?|laptops?|pcs?|workstations?|desktops?)\b|"
          r"\bon\s+the\s+(?:truck|car|vehicle|device|phone|robot|drone|machine|tractor|ship|aircraft|train)'s\s+(?:own\s+)?"
          r"(?:hardware|chip|computer|processor)\b|\bon-?board\s+(?:computer|hardware|chip|processor)\b|"
          r"\bembedded\s+(?:devices?|systems?|hardware|boards?|chips?|targets?)\b|\b(?:edge|iot)\s+(?:devices?|"
          r"deployment|hardware|inference|nodes?)\b|\bat\s+the\s+edge\b", rank=1),
    _rule("deployment", "edge", "offline_device", _OFFLINE + "|" + _WEAK_SIGNAL, rank=1, requires=_DEVICE),
    _rule("deployment", "air_gapped", "offline_network", _OFFLINE, rank=2,
          forbids=_DEVICE + r"|\b(?:batch|overnight)\b"),
    _rule("deployment", "on_prem", "leave_our_premises",
          r"\b(?:leaves?|go(?:es)?\s+outside|go(?:es)?\s+off|outside(?:\s+of)?|off)\s+(?:of\s+)?(?:our|the)\s+"
          r"(?:own\s+)?" + _OWN_PLACE +
          r"\b", rank=3, negatable=False),
    _rule("deployment", "on_prem", "on_prem",
          r"\bon[\s-]?prem(?:ise|ises)?\b|\bon\s+(?:our|its|their|the\s+(?:hospital|bank|company|firm|agency|"
          r"ministry|university|lab)'s)\s+own\s+(?:servers?|hardware|infrastructure|metal|"
          r"machines|gpus)\b|\bon\s+our\s+(?:servers|hardware)\b|\b(?:in|inside|within|at)\s+our\s+(?:own\s+)?(?:[\w-]+\s+)?"
          r"(?:data\s*cent(?:er|re)s?|racks?|server\s+rooms?|infrastructure|premises|colo(?:cation)?|"
          r"facilit(?:y|ies))\b|\b(?:our\s+own|private|in-house)\s+data\s*cent(?:er|re)s?\b|\bbare[\s-]metal\b",
          rank=3),
    _rule("deployment", "cloud", "cloud",
          r"\b(?:on|in|into|within|inside|to|our|an|use|uses|using)\s+(?:our\s+)?(?:own\s+)?" + _CLOUDS + r"\b|" +
          _CLOUDS +
          r"\s+(?:account|project|tenancy|tenant|subscription|environment|vpc|region|infrastructure|setup|shop|"
          r"customers?)\b|"
          r"\b(?:our|the\s+company's|a)\s+(?:own\s+)?(?:private\s+)?cloud\s+(?:account|project|tenancy|tenant|"
          r"subscription|environment|vpc|infrastructure|setup)\b|\bvpc\b|\bin\s+the\s+cloud\b|\bcloud[\s-](?:hosted|"
          r"based|native)\b|\bsaas\b|\bpublic\s+cloud\b", rank=4),
    # --- task_scope ----------------------------------------------------------------------------------------------
    _rule("task_scope", "broad", "chat_or_assistant",
          r"\bchat\s*bots?\b|\bchat\s+(?:assistant|interface|agent|experience|with)\b|\bconversational\s+(?:agent|"
          r"assistant|ai|interface|bot|search)\b|\bconversationally\b|\b(?:auto-?complete|code\s+completions?)\b|\b(?:writing|voice|coding|code|ai|virtual|research|personal|support|"
          r"chat|knowledge|an|the|our|a)\s+(?:[\w-]+\s+)?assistants?\b|\bcopilot\b|\b(?:ai\s+)?tutor(?:s|ing)?\b|"
          r"\b(?:a|an|our|the)\s+(?:[\w-]+\s+)?bot\s+(?:that|which|to|for|on)\b", rank=0),
    _rule("task_scope", "broad", "answer_questions",
          r"\banswer(?:s|ing)?\s+(?:[\w'-]+\s+){0,3}?(?:questions|queries|inquiries|enquiries)\b|\bquestion[\s-]"
          r"answering\b|\bq\s?&\s?a\s+(?:bot|system|tool|assistant|service|app|feature|engine)\b|\bask(?:s|ing)?\s+(?:it\s+|the\s+model\s+)?(?:questions|anything)\b|\bask\s+it\b",
          rank=0),
    _rule("task_scope", "broad", "summarise_or_draft",
          r"\bsummar(?:is|iz)(?:e|es|ed|ing|ation|ations)\b|\bsummar(?:y|ies)\b|\bdraft(?:s|ing|ed)?\b", rank=0),
    _rule("task_scope", "broad", "write_or_generate",
          r"\b(?:write|writes|writing|generate|generates|generating|generation\s+of|compose|composes|composing|"
          r"produce|produces|producing|create|creates|creating)\s+(?:[\w'-]+\s+){0,3}?(?:e-?mails?|replies|responses|"
          r"answers|reports?|posts?|descriptions?|articles?|copy|content|text|code|summaries|letters?|stories|"
          r"documentation|outlines?|drafts?|messages?|scripts?|proposals?|essays?|explanations?|narratives?)\b|"
          r"\bcode\s+(?:generation|completion|assistant)\b|\brefactor\w*\b", rank=0),
    _rule("task_scope", "broad", "open_ended",
          r"\bopen[\s-]ended\b|\bgeneral[\s-]purpose\b|\b(?:multi[\s-]?step\s+)?reasoning\b|\bfree[\s-]form\b|"
          r"\btranslat(?:e|es|ion|ions|ing)\b|\bexplain(?:s|ing)?\b|\bexplanations?\b|\b(?:describe|explain|write|answer|"
          r"summari[sz]e)\w*\s+(?:[\w-]+\s+){0,4}?in\s+plain\s+(?:language|english)\b|\breason(?:s|ing)?\s+(?:over|about|"
          r"through|across)\b", rank=0),
    _rule("task_scope", "narrow", "classify_or_route",
          r"\bclassif(?:y|ies|ying|ication|ications|ier|iers)\b|\bcategori[sz](?:e|es|ing|ation)\b|\brout(?:e|es|ed|ing)\s+"
          r"(?:each|every|all|incoming|the|them|it|these|those|our|new|inbound|customer|user|support|(?:[\w-]+\s+)?(?:tickets|"
          r"e-?mails|requests|messages|calls|queries|leads|cases))\b|\b(?:ticket|e-?mail|request|call|query|intent|model)\s+"
          r"routing\b|\brouter\b|\b(?:triage|triages|triaging)\b|\btag(?:s|ging)?\b|\btagged\s+(?:by\s+(?:type|topic|category|"
          r"kind|intent)|as|into)\b|\blabel(?:s|ling|ing)?\s+(?:each|every|incoming|new|all|them|it)\b", rank=1),
    _rule("task_scope", "narrow", "fixed_label_set",
          r"(?<!each\s)\b(?:one\s+of|which\s+of|set\s+of|among|into)\s+(?:(?:the|our|about|around|roughly|~)\s+)?(?:\d+|[a-z]+)\s+"
          r"(?:[\w-]+\s+)?(?:labels|categories|classes|queues|buckets|topics|types|reasons|intents|services|teams|"
          r"departments|codes|groups)\b|\b\d+\s+(?:[\w-]+\s+)?(?:labels|categories|classes|queues|buckets|intents)\b",
          rank=1),
    _rule("task_scope", "narrow", "extract_fields",
          r"\bextract(?:s|ing|ion)?\s+(?:[\w'-]+,?\s+){0,4}?(?:fields?|entities|names|dates|amounts|totals|numbers|"
          r"values|dosages|events|attributes|key\s+facts|addresses|codes|skus|prices|terms|clauses)\b|\b(?:named[\s-])?"
          r"entity\s+(?:extraction|recognition)\b|\bner\b|\b(?:information|field|key[\s-]value|clause|attribute|relation|"
          r"data)\s+extraction\b",
          rank=1),
    _rule("task_scope", "narrow", "detect_or_flag",
          r"\bsentiment\b|\bspam\w*\b|\bphishing\s+detection\b|\bdetect(?:s|ing|ion)?\s+(?:[\w-]+\s+)?(?:spam|"
          r"phishing|fraud|toxic\w*|abuse|anomal\w*|duplicates)\b|\bflag(?:s|ging)?\s+(?:[\w,-]+\s+){0,4}?(?:posts|"
          r"comments|messages|content|transactions|e-?mails|tickets|reviews|claims|orders|accounts|documents|invoices)\b|\bmoderat(?:e|es|ing)\s+(?:[\w-]+\s+)"
          r"{0,2}?(?:comments|posts|content|messages|reviews|chats)\b|\bcontent\s+moderation\b|\bintent\s+(?:detection|"
          r"classification|recognition)\b|\bbinary\s+(?:decision|classification|label)\b|\byes\s*(?:/|or)\s*no\b|"
          r"\bredact\w*\b|\b(?:anonymi[sz]|pseudonymi[sz]|de-?identif)\w*\b", rank=1),
    _rule("task_scope", "narrow", "map_to_codes",
          r"\b(?:map|maps|mapping|normali[sz]e|standardi[sz]e|assign|assigns|assigning)\s+(?:[\w-]+\s+){0,3}?(?:into|to|"
          r"onto)\s+(?:(?:our|a|an|the|one\s+of|the\s+right)\s+)?(?:[\w,-]+\s+){0,3}?(?:taxonomy|codes?|ontology|"
          r"categor(?:y|ies)|schema|depots?|queues?|teams?|departments?|buckets?|skus?|ids?|products?)\b|"
          r"\b(?:into|as)\s+structured\s+(?:fields|data|records|json|form)\b|\b(?:assign|assigns|assigning|predict|"
          r"predicts|predicting)\s+(?:[\w-]+\s+){0,2}?(?:codes?|labels?|categor(?:y|ies)|class(?:es)?|tags?)\b|"
          r"\bpredict(?:s|ing)?\s+(?:whether|which|if)\b|\b(?:marked|flagged|labell?ed)\s+as\s+[\w-]+\s*(?:/|or)\s",
          rank=1),
    # --- quality_bar ---------------------------------------------------------------------------------------------
    _rule("quality_bar", "frontier", "best_in_class",
          r"\bstate[\s-]of[\s-]the[\s-]art\b|\bsota\b|\bbest[\s-]in[\s-]class\b|\bbest\s+possible\b|\b(?:the\s+)?"
          r"(?:very\s+)?(?:highest|best)\s+(?:possible\s+)?(?:quality|accuracy)\b|\btop[\s-](?:quality|notch|tier)\b|"
          r"\bfrontier[\s-](?:level|quality|class|grade|model\s+quality)\b|\b(?:cutting|bleeding)[\s-]edge\b|"
          r"\bcomparable\s+to\s+(?:the\s+)?(?:best|frontier|leading|top|gpt|claude|gemini)|\b(?:as\s+good\s+as|match(?:es|ing)?|on\s+"
          r"par\s+with|rival(?:s|ling)?)\s+(?:the\s+)?(?:best|frontier|leading|top)\b|\b(?:as\s+good\s+as|on\s+par\s+"
          r"with)\s+(?:gpt|claude|gemini)[\w.-]*|\bworld[\s-]class\b|\bquality\s+is\s+(?:critical|paramount|"
          r"everything|non-negotiable)\b", rank=0, negated="standard", negated_rank=0.5, soft_drops=True),
    _rule("quality_bar", "standard", "not_perfect",
          r"\b(?:don't|doesn't|do\s+not|does\s+not|needn't|need\s+not|won't|will\s+not)\s+(?:need\s+to\s+|have\s+to\s+)?"
          r"be\s+perfect\b|\bnot\s+(?:need\s+to\s+be\s+)?perfect\b|\b(?:doesn't|don't|does\s+not|do\s+not)\s+need\s+"
          r"(?:the\s+)?(?:best|top)\b", rank=1, negatable=False),
    _rule("quality_bar", "standard", "good_enough",
          r"\bgood\s+enough\b|\bdecent\s+(?:quality|accuracy|results|answers|output)\b|\b(?:quality|accuracy|results?|"
          r"output|answers)\s+(?:just\s+|only\s+)?(?:needs?\s+to\s+|has\s+to\s+|should\s+|must\s+)?be\s+(?:decent|ok|"
          r"okay|reasonable|acceptable|fine|adequate)\b|\b(?:acceptable|reasonable|okay|adequate)\s+(?:quality|accuracy|"
          r"results)\b|\bnothing\s+fancy\b", rank=1),
    # --- team_ml_expertise ---------------------------------------------------------------------------------------
    _rule("team_ml_expertise", "research", "research_team",
          r"\bresearch\s+(?:lab|laboratory|labs|team|group|institute|scientists?|org(?:anization)?)\b|\b(?:ai|ml)\s+"
          r"(?:research\s+)?(?:lab|laboratory)\b|"
          r"\bresearch\s+(?:startup|company)\b|\b(?:we|founders?|team|researchers|engineers|people|staff|who)\s+(?:have\s+"
          r"|'ve\s+)?pre-?trained\s+(?:[\w-]+\s+){0,3}?models?\b|\bph\.?\s?d\.?s?\b|\b(?:have|has|'ve|who|already|previously)\s+(?:\w+\s+){0,2}?(?:pre-?trained|trained)\s+"
          r"(?:[\w-]+\s+){0,4}?from\s+scratch\b|\bpublished\s+(?:[\w-]+\s+){0,2}?(?:pre-?training|papers?|work)\b|"
          r"\blarge[\s-]scale\s+(?:distributed\s+)?(?:pre-?)?training\b|\bdistributed\s+training\b|\bpre-?training\s+"
          r"(?:experience|expertise|team)\b", rank=0, hypothetical_drops=True),
    _rule("team_ml_expertise", "experienced", "ml_staff",
          r"\b(?:ml|machine[\s-]learning|ai|nlp|deep[\s-]learning)\s+(?:engineers?|scientists?|researchers?|"
          r"specialists?|experts?)\b|\bdata\s+scien(?:tists?|ce\s+team)\b|\b(?:ml|machine[\s-]learning|ai|nlp|"
          r"data[\s-]science|mlops|ml\s+platform|ml\s+ops)\s+(?:team|group|department|platform\s+team|engineering\s+"
          r"team)\b|\bmlops\b", rank=1, negated="none", negated_rank=3, hypothetical_drops=True),
    _rule("team_ml_expertise", "experienced", "has_trained_or_served",
          r"\b(?:have|has|'ve|who|already|previously|regularly|routinely)\s+(?:[\w-]+\s+){0,2}?(?:fine-?tun(?:ed|e)|"
          r"trained\s+and\s+deployed|deployed|served|shipped|productioni[sz]ed)\s+(?:[\w-]+\s+){0,4}?models?\b|"
          r"\b(?:run|runs|serve|serves|serving|running)\s+(?:[\w-]+\s+){0,3}?models?\s+in\s+production\b|"
          r"\bserves?\s+models\b|\bmodels?\s+(?:in|to|into)\s+production\b|\b(?:have|has|'ve)\s+(?:\w+\s+)?fine-?tuned\b",
          rank=1, hypothetical_drops=True),
    _rule("team_ml_expertise", "basic", "used_llm_apis",
          r"\b(?:have|has|'ve|who)\s+(?:\w+\s+)?(?:used|played\s+(?:around\s+)?with|experimented\s+with|tried(?:\s+out)?"
          r"|worked\s+with|tinkered\s+with|built\s+\w+\s+(?:with|on))\s+(?:(?:the|an?|some)\s+)?" + _LLM_NAMES +
          r"(?:\s+apis?)?\b|\b(?:played\s+(?:around\s+)?with|experimented\s+with|tinkered\s+with|familiar\s+with)\s+"
          r"(?:(?:the|an?|some)\s+)?(?:" + _LLM_NAMES + r"|ml|machine\s+learning|python|apis?)\b|\b(?:some|basic|"
          r"a\s+bit\s+of|limited|a\s+little|beginner)\s+(?:ml|machine[\s-]learning|python|data[\s-]science|ai|llm)\s+"
          r"(?:experience|knowledge|familiarity|skills|background|exposure)\b", rank=2, hypothetical_drops=True),
    _rule("team_ml_expertise", "none", "no_ml_skills",
          r"\b(?:no|zero)\s+(?:prior\s+|real\s+|in-house\s+)?(?:ml|machine[\s-]learning|ai|data[\s-]science|technical)\s+"
          r"(?:experience|expertise|background|skills|knowledge|team|people|staff|engineers|specialists|"
          r"capabilit(?:y|ies))\b|\bzero\s+technical\s+(?:people|staff|team|skills|background|folks)\b|\b(?:nobody|"
          r"no\s+one|none\s+of\s+us)\s+(?:[\w']+\s+){0,4}?(?:ml|machine\s+learning|ai|data\s+science)\b|"
          r"\bnon[\s-]technical\b|\b(?:nobody|no\s+one|neither\s+of\s+us|none\s+of\s+us)\s+(?:[\w']+\s+){0,2}?"
          r"(?:codes|programs|is\s+(?:a\s+|an\s+)?(?:developer|technical|engineer|programmer))\b|\b(?:don't|do\s+not)\s+have\s+(?:any\s+)?(?:ml|machine[\s-]learning|ai|"
          r"data[\s-]science)\s+(?:experience|expertise|people|engineers|team|skills|background)\b|\bno\s+(?:\w+\s+)?"
          r"background\s+in\s+(?:ml|machine\s+learning|ai)\b|\b(?:just|only|all)\s+(?:a\s+(?:few|couple\s+of)\s+)?(?:web|"
          r"front[\s-]?end|full[\s-]?stack)\s+(?:developers|devs|engineers)\b|\bi'm\s+a\s+(?:\w+\s+)?(?:web|"
          r"front[\s-]?end)\s+developer\b", rank=3, negatable=False),
    # --- needs_custom_architecture -------------------------------------------------------------------------------
    _rule("needs_custom_architecture", False, "standard_architecture_fine",
          r"\b(?:standard|existing|default|current|off-the-shelf|stock)\s+(?:tokeni[sz]ers?|vocabular(?:y|ies)|"
          r"architectures?)\s+(?:is|are|works?|would\s+be|will\s+be|should\s+be)\s+(?:fine|ok|okay|good|enough|"
          r"sufficient|adequate)\b|\bno\s+(?:need\s+(?:for|to)\s+)?(?:custom\s+architecture|architecture\s+changes?|"
          r"architectural\s+changes?)\b", rank=1, negatable=False),
    _rule("needs_custom_architecture", True, "vocabulary_lacks_script",
          r"\b(?:vocabular(?:y|ies)|tokeni[sz]ers?)\s+(?:simply\s+|just\s+)?(?:don't|doesn't|do\s+not|does\s+not|can't|"
          r"cannot)\s+(?:contain|cover|handle|include|support|represent)\b", rank=0, negatable=False),
    _rule("needs_custom_architecture", True, "tokenizer_or_vocabulary",
          r"\btokeni[sz](?:er|ers|ation)\b|\b(?:new|custom|own|bigger|larger|extended|different|dedicated|"
          r"speciali[sz]ed)\s+vocabular(?:y|ies)\b|\b(?:extend|expand|change|modify|replace)\s+(?:the\s+|its\s+)?"
          r"vocabulary\b|\bvocabulary\s+(?:size|built\s+for|designed\s+for|that\s+covers)\b", rank=0, negated=False),
    _rule("needs_custom_architecture", True, "architecture_change",
          r"\b(?:change|changes|changing|modify|modifying|alter|altering|customi[sz]e|redesign|replace|new|custom|own|"
          r"different|novel|bespoke|modified)\s+(?:the\s+|its\s+|our\s+|a\s+)?(?:model\s+|network\s+|transformer\s+)?(?:architecture|"
          r"attention(?:\s+mechanism)?|layers|layer\s+count|hidden\s+size|number\s+of\s+(?:layers|heads)|attention\s+"
          r"heads|heads|positional\s+(?:encoding|embeddings)|embedding\s+size)\b|\barchitectur(?:e|al)\s+changes?\b|"
          r"\bnovel\s+architecture\b", rank=0, negated=False),
    # --- strategic_moat ------------------------------------------------------------------------------------------
    _rule("strategic_moat", False, "nice_to_have",
          r"\bnice[\s-]to[\s-]have\b|\bjust\s+a\s+(?:small\s+)?(?:feature|add-on|side\s+project|convenience)\b",
          rank=1, negatable=False, requires=r"\b(?:ai|llm|model|gen\s*ai|assistant|chatbot|feature)\b"),
    _rule("strategic_moat", True, "moat_or_core",
          r"\b(?:competitive\s+|strategic\s+)?moat\b|\bcompetitive\s+(?:advantage|edge|differentiator)\b|\b(?:main|"
          r"key|core|primary|biggest|our|a|the|real)\s+differentiator\b|\bcore\s+(?:of|to)\s+"
          r"(?:(?:our|the)\s+)?(?:[\w-]+\s+){0,2}?(?:product|business|strategy|company|offering|platform|value\s+"
          r"proposition)\b|\b(?:central|critical|key|fundamental)\s+to\s+our\s+(?:[\w-]+\s+)?(?:strategy|product|"
          r"business|value\s+proposition)\b|\bour\s+(?:core|main|flagship)\s+product\b|\b(?:the\s+)?(?:model|ai|llm)\s+is\s+"
          r"(?:the|our)\s+(?:company|product|business)\b|\b(?:heart|centre|center)\s+of\s+"
          r"our\s+(?:[\w-]+\s+){0,2}?(?:product|business|strategy|offering|company)\b|\bsets?\s+us\s+apart\b|"
          r"\bdifferentiates?\s+us\b|\bour\s+(?:competitive\s+|main\s+|real\s+|key\s+)?edge\b(?!\s+(?:devices?|"
          r"deployment|hardware|nodes?|servers?|locations?|inference|cases?))", rank=0, negated=False),
    # --- needs_model_control -------------------------------------------------------------------------------------
    _rule("needs_model_control", False, "lock_in_no_concern",
          r"\b(?:don't|do\s+not|doesn't|does\s+not|won't)\s+(?:really\s+)?(?:care|mind|worry)\s+(?:(?:much|too\s+much)"
          r"\s+)?(?:about\s+)?(?:[\w-]+\s+){0,2}?lock[\s-]?in\b|\block[\s-]?in\s+(?:isn't|is\s+not)\s+(?:a\s+|an\s+)?"
          r"(?:big\s+|real\s+|major\s+)?(?:concern|issue|problem|worry|priority)\b|\b(?:not\s+(?:worried|concerned|"
          r"bothered)|unconcerned)\s+about\s+(?:[\w-]+\s+){0,2}?lock[\s-]?in\b|\b(?:fine|happy|ok|okay|comfortable|"
          r"content)\s+(?:with\s+)?(?:depending|relying|being\s+(?:dependent|locked\s+in))\s+on\b|\b(?:fine|happy|ok|"
          r"okay|comfortable)\s+(?:with|using)\s+(?:a\s+|an\s+)?(?:closed\s+|proprietary\s+|hosted\s+|third[\s-]party\s+)?"
          r"(?:api|vendor|provider)\b|\b(?:happy|fine|ok|okay|content)\s+(?:to\s+)?(?:use|with|using)\s+(?:whatever|any|"
          r"whichever)\s+(?:[\w-]+\s+)?(?:provider|vendor|api|model|company)\b|\b(?:don't|do\s+not)\s+(?:really\s+)?"
          r"(?:mind|care)\s+(?:which|what)\s+(?:[\w-]+\s+)?(?:vendor|provider|api|company)\b", rank=1, negatable=False),
    _rule("needs_model_control", True, "avoid_dependence",
          r"\b(?:avoid|avoiding|prevent|escape|minimi[sz]e|reduce|no|without|free\s+(?:of|from)|worried\s+about|"
          r"concerned\s+about|afraid\s+of|fear\s+of|risk\s+of|wary\s+of)\s+(?:any\s+)?(?:[\w-]+\s+)?lock[\s-]?in\b|"
          r"\b(?:don't|do\s+not)\s+want\s+(?:to\s+be\s+)?(?:[\w-]+\s+){0,2}?(?:locked[\s-]in|lock[\s-]in|tied\s+to|"
          r"dependent\s+on)\b|\bnot\s+(?:be\s+)?(?:tied|locked)\s+(?:in\s+)?to\s+(?:one|a\s+single|any|an?\s+\w+)\s+"
          r"(?:vendor|provider|company|api)\b|\b(?:avoid|avoiding|not|without|stop|reduce)\s+(?:\w+\s+){0,2}?(?:depending|"
          r"dependent|relying|reliant|dependen(?:ce|cy))\s+on\s+(?:a\s+single\s+|one\s+|any\s+|an?\s+|the\s+)?"
          r"(?:[\w-]+\s+){0,2}?(?:vendors?|providers?|company|companies|api|third[\s-]part(?:y|ies)|suppliers?|lab)\b|\bvendor[\s-]independen(?:ce|t)\b|\bindependen(?:ce|t)\s+"
          r"(?:from|of)\s+(?:\w+\s+)?(?:vendors?|providers?)\b", rank=0, negatable=False),
    _rule("needs_model_control", True, "own_or_inspect_weights",
          r"\b(?:own|owning|ownership\s+of|keep|hold|control|have|possess)\s+(?:the\s+|our\s+|its\s+)?(?:own\s+)?"
          r"(?:model\s+)?weights\b|\b(?:full|complete|total)\s+control\b|\bcontrol\s+over\s+(?:the\s+|our\s+)?"
          r"(?:model|weights|stack)\b|\b(?:inspect|audit|modify|examine|introspect)\s+(?:and\s+(?:modify|adapt|inspect|"
          r"audit)\s+)?(?:the\s+|its\s+|our\s+)?(?:model|weights|internals)\b", rank=0, negated=False),
    _rule("needs_model_control", True, "lock_in_mentioned",
          r"\b(?:vendor\s+)?lock[\s-]?in\b|\blocked[\s-]in(?:to)?\b|\b(?:beholden|captive)\s+to\b",
          rank=2, negatable=False),
)
