namespace StudentDataQuality.Synthetic;

/// <summary>Chinese names, streets and school names for the synthetic province. Nothing here is a real person.</summary>
internal static class NameBank
{
    // Frequent surnames first: the picker favours the front of the list, as real surname frequencies do.
    private const string Surnames =
        "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭"
        + "廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍韦申尤毕聂焦";

    private static readonly string[] CompoundSurnames = ["欧阳", "司马", "上官", "诸葛", "东方", "慕容", "皇甫", "令狐"];

    private const string MaleGiven = "伟强磊军勇杰涛斌浩宇轩博文俊鹏辉明晨子豪睿泽铭天一嘉思航旭阳凯昊鑫然晟哲峰瑞程奕宁志建国华新立永德成刚";
    private const string FemaleGiven = "芳娜静敏丽婷雪琳欣怡悦涵萱梓雨佳诗梦可馨妍琪瑶晴蕾颖璐彤菲桐宁思语嘉一若月秀兰红霞玉艳春燕丹凤";

    // Names written with the separator dot (GB 18030 U+00B7), as for Uyghur, Kazakh and Russian-descended students.
    private static readonly string[] DotGivenNames =
        ["阿依古丽", "古丽娜尔", "热依拉", "努尔", "艾力", "买买提", "阿不都", "伊力哈木", "迪丽娜尔", "帕提古丽", "伊万", "娜塔莎", "安娜", "尼古拉", "玛丽娜"];

    private static readonly string[] DotFamilyNames =
        ["买买提", "艾力", "吐尔逊", "阿布拉", "热合曼", "彼得罗夫", "伊万诺娃", "库尔班", "哈力克", "斯拉夫"];

    public static readonly string[] Streets =
        ["中山路", "友谊路", "红旗大街", "建设街", "和平路", "胜利街", "光明路", "民主街", "文化路", "长江路", "黄河路", "人民大街",
         "新华街", "解放路", "学府路", "松花江街", "兴安路", "北京路", "东大直街", "西大直街", "工农街", "振兴路", "团结路", "繁荣街"];

    public static readonly string[] SchoolWords =
        ["实验", "朝阳", "红旗", "育才", "新华", "光明", "东风", "铁路", "兴华", "向阳", "建设", "民主", "胜利", "友谊", "文化", "开发区"];

    private static readonly string[] Numerals =
        ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四", "十五", "十六", "十七", "十八", "十九", "二十"];

    public static bool IsCompound(string surname) => Array.IndexOf(CompoundSurnames, surname) >= 0;

    public static string Numeral(int n) => n >= 1 && n <= Numerals.Length ? Numerals[n - 1] : n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string Surname(Random rng)
    {
        if (rng.Next(200) == 0)
        {
            return CompoundSurnames[rng.Next(CompoundSurnames.Length)];
        }

        // Squared uniform: the front of the list is drawn far more often than the tail.
        var u = rng.NextDouble();
        return Surnames[(int)(u * u * Surnames.Length)].ToString();
    }

    public static string GivenName(Random rng, int gender)
    {
        var chars = gender == 1 ? MaleGiven : FemaleGiven;
        var first = chars[rng.Next(chars.Length)];
        return rng.Next(4) == 0 ? first.ToString() : string.Concat(first, chars[rng.Next(chars.Length)]);
    }

    public static string DotName(Random rng) =>
        $"{DotGivenNames[rng.Next(DotGivenNames.Length)]}·{DotFamilyNames[rng.Next(DotFamilyNames.Length)]}";

    /// <summary>A woman's surname for a mother or grandmother, different from the child's.</summary>
    public static string OtherSurname(Random rng, string surname)
    {
        string s;
        do
        {
            s = Surname(rng);
        }
        while (s == surname);

        return s;
    }
}
